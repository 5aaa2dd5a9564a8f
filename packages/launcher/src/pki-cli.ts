import { runPkiCli } from './pki-cli-core.js';

// Keeps a deployment's internal PKI and publishes each service's files into a directory of its
// own (docker-compose.yml runs it as the `pki` service). See USAGE in pki-cli-core.ts.
const stop = new AbortController();
// As a container's first process, Node ends on a signal only when it handles it.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
process.exitCode = await runPkiCli(process.argv.slice(2), { signal: stop.signal });
