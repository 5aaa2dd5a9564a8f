import { decodeKey } from '@fleet/request-signing';
import { createLogger, listen } from '@fleet/service-kit';
import { announceReady } from '../node-process.js';
import { GUILD_SUBGRAPHS, type GuildSubgraph } from './guild-schemas.js';
import { GuildSubgraphServer, type CallCounts } from './guild-subgraph-server.js';

/**
 * The Guild benchmark's four subgraphs in one process, on two ports of loopback: one for
 * gateways that do not sign their calls (the peers), one that accepts only calls signed with
 * each subgraph's key (GUILD_KEYS: JSON, subgraph to base64url key). Answers `counts` over IPC
 * with the calls served so far.
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
const subgraphs = new GuildSubgraphServer(
  createLogger({ service: 'guild-subgraphs', level: 'warn' }),
  counts,
);
const plain = subgraphs.server();
const signed = subgraphs.server(decoded);
const port = await listen(plain, '127.0.0.1', 0);
const signedPort = await listen(signed, '127.0.0.1', 0);
process.on('message', (message: { type?: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts });
});
process.once('SIGTERM', () => {
  plain.close();
  signed.close();
  process.disconnect?.();
  plain.closeAllConnections();
  signed.closeAllConnections();
});
announceReady({ type: 'ready', port, signedPort });
