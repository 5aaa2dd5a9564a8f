import { createServer, type RequestListener } from 'node:http';
import { announceReady } from '../node-process.js';

/**
 * What this entry uses of Hive Gateway. Its module is loaded by a name TypeScript does not
 * resolve: its types augment graphql's and the fetch API's global ones, which would change how
 * the rest of the project (type-checked as one program) compiles.
 */
interface HiveGateway {
  createGatewayRuntime: (config: Record<string, unknown>) => {
    requestListener: RequestListener;
    dispose: () => unknown;
  };
  createLoggerFromLogging: (level: string) => unknown;
  defaultOptions: { pollingInterval: number };
  getBuiltinPluginsFromConfig: (
    config: { jit: boolean },
    context: Record<string, unknown>,
  ) => Promise<unknown[]>;
  getCacheInstanceFromConfig: (
    config: Record<string, never>,
    context: Record<string, unknown>,
  ) => Promise<unknown>;
  MemPubSub: new () => unknown;
}
const HIVE_GATEWAY: string = '@graphql-hive/gateway';
const {
  createGatewayRuntime,
  createLoggerFromLogging,
  defaultOptions,
  getBuiltinPluginsFromConfig,
  getCacheInstanceFromConfig,
  MemPubSub,
} = (await import(HIVE_GATEWAY)) as HiveGateway;

/**
 * The Guild's Hive Gateway as its own benchmark runs it (`hive-gateway supergraph … --jit` with
 * `inboundInflightRequestDeduplication`, NODE_ENV=production), built the way its command line
 * builds it (its defaults, its cache, its built-in plugins: JIT only) but served by node:http
 * in this one process (the command line forks no workers by default either). No reporting is
 * configured: it sends nothing anywhere. HIVE_INBOUND_DEDUPLICATION=off turns the inbound
 * deduplication off; its deduplication of identical subgraph calls in flight stays at its
 * default (on).
 */
const supergraph = process.env.SUPERGRAPH_PATH!;
const log = createLoggerFromLogging('warn');
const pubsub = new MemPubSub();
const cache = await getCacheInstanceFromConfig({}, { pubsub, log, cwd: process.cwd() });
const plugins = await getBuiltinPluginsFromConfig({ jit: true }, { log, cache, pubsub, cwd: process.cwd() });
const runtime = createGatewayRuntime({
  supergraph,
  pollingInterval: defaultOptions.pollingInterval,
  logging: log,
  pubsub,
  cache,
  inboundInflightRequestDeduplication: process.env.HIVE_INBOUND_DEDUPLICATION !== 'off',
  plugins: () => plugins,
});
const server = createServer(runtime.requestListener);
await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(runtime.dispose()).then(() => process.exit(0));
});
const address = server.address();
announceReady({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
