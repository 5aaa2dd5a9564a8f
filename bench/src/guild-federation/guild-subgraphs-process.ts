import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { CertificateDirectory } from '@fleet/launcher';
import { decodeKey } from '@fleet/request-signing';
import { createLogger, listen, type MutualTls } from '@fleet/service-kit';
import { announceReady } from '../node-process.js';
import { GUILD_SUBGRAPHS, type GuildSubgraph } from './guild-schemas.js';
import { GuildSubgraphServer, type CallCounts } from './guild-subgraph-server.js';

/**
 * The Guild benchmark's four subgraphs in one process, on loopback: one port for gateways that
 * do not sign their calls (the peers), one that accepts only calls signed with each subgraph's
 * key (GUILD_KEYS: JSON, subgraph to base64url key). With GUILD_PKI_DIR (an internal authority's
 * folder holding a certificate for each subgraph), each subgraph also has a port of its own over
 * mutual TLS that admits only the gateway's certificate, for the same signed calls. Answers
 * `counts` over IPC with the calls served so far.
 */
const keys = JSON.parse(process.env.GUILD_KEYS ?? '{}') as Record<string, string>;
const decoded = Object.fromEntries(
  GUILD_SUBGRAPHS.map((name) => {
    const key = decodeKey(keys[name] ?? '');
    if (!Buffer.isBuffer(key)) throw new Error(`GUILD_KEYS.${name}: ${key.error}`);
    return [name, key];
  }),
) as Record<GuildSubgraph, Buffer>;
const counts: CallCounts = {
  calls: { accounts: 0, inventory: 0, products: 0, reviews: 0 },
  signed: 0,
};
const logger = createLogger({ service: 'guild-subgraphs', level: 'warn' });
const subgraphs = new GuildSubgraphServer(logger, counts);
const servers: Server[] = [subgraphs.server(), subgraphs.server(decoded)];
const [port, signedPort] = [
  await listen(servers[0]!, '127.0.0.1', 0),
  await listen(servers[1]!, '127.0.0.1', 0),
];

const sides: MutualTls[] = [];
const tlsPorts: Partial<Record<GuildSubgraph, number>> = {};
const pkiDir = process.env.GUILD_PKI_DIR;
if (pkiDir) {
  const certificates = new CertificateDirectory(pkiDir);
  for (const name of GUILD_SUBGRAPHS) {
    const side = certificates.mutualTls(name, logger);
    const server = subgraphs.server(decoded, side.serverOptions()) as HttpsServer;
    side.guard(server, new Set(['gateway']));
    tlsPorts[name] = await listen(server, '127.0.0.1', 0);
    servers.push(server);
    sides.push(side);
  }
}

process.on('message', (message: { type?: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts });
});
process.once('SIGTERM', () => {
  for (const server of servers) server.close();
  for (const side of sides) void side.close();
  process.disconnect?.();
  for (const server of servers) server.closeAllConnections();
});
announceReady({ type: 'ready', port, signedPort, tlsPorts });
