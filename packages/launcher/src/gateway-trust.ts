import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, setGlobalDispatcher } from 'undici';

/**
 * Makes this process, as a client of the gateway (the demo, a benchmark), trust the
 * federation's internal authority beside the system's, for every `fetch` of undici's it makes:
 * the gateway's default certificate is that authority's.
 */
export function trustGatewayCertificate(caFile: string): void {
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } }));
}
