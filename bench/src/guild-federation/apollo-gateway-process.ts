import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { announceReady } from '../node-process.js';

/**
 * Apollo's gateway as the reference benchmarks it: @apollo/gateway behind @apollo/server's
 * standalone server, defaults throughout (its own fetcher), one process. SUPERGRAPH_PATH names
 * the supergraph; the runner sets APOLLO_TELEMETRY_DISABLED.
 */
if (process.env.APOLLO_TELEMETRY_DISABLED !== 'true')
  throw new Error('APOLLO_TELEMETRY_DISABLED must be true');
const gateway = new ApolloGateway({ supergraphSdl: readFileSync(process.env.SUPERGRAPH_PATH!, 'utf8') });
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
announceReady({ type: 'ready', port: Number(new URL(url).port) });
