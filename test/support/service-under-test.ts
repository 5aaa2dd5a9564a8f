import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch, type Response } from 'undici';
import {
  encodePrincipal,
  signedPost,
  signedPostHeaders,
  type Engine,
  type MutualTls,
  type Principal,
  type SignedPostOptions,
} from '@fleet/service-kit';
import { createServiceDatabases } from './postgres.js';
import { removeScratchDirectory } from './scratch-directory.js';

export interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

/** Where a service started in a test keeps its data, and how it is removed afterwards. */
export interface ServiceStorage {
  dataDir: string;
  /** Its own PostgreSQL database (and role), or undefined on the embedded database. */
  databaseUrl: string | undefined;
  /** `<PREFIX>DATA_DIR` and, on PostgreSQL, `<PREFIX>DATABASE_URL`, for its configuration. */
  env(prefix: string): Record<string, string>;
  remove(): Promise<void>;
}

/** A fresh data directory and, on PostgreSQL, a database of the service's own. */
export async function serviceStorage(engine: Engine, service: string): Promise<ServiceStorage> {
  const dataDir = await mkdtemp(join(tmpdir(), `${service}-`));
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  if (engine === 'postgres') {
    const created = await createServiceDatabases([service]);
    databaseUrl = created.databases[service]!.url;
    drop = created.drop;
  }
  return {
    dataDir,
    databaseUrl,
    env: (prefix) => ({
      [`${prefix}DATA_DIR`]: dataDir,
      ...(databaseUrl ? { [`${prefix}DATABASE_URL`]: databaseUrl } : {}),
    }),
    async remove() {
      await drop?.();
      await removeScratchDirectory(dataDir);
    },
  };
}

/** GraphQL calls to a subgraph as the gateway makes them, on a principal's behalf. */
export function gatewayGraphql(target: {
  audience: string;
  key: Buffer;
  baseUrl: string;
  /** The gateway's side of mutual TLS. */
  tls: MutualTls;
  timeoutMs?: number;
}) {
  return async <T>(
    principal: Principal,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<GraphQLAnswer<T>> => {
    const response = await signedPost({
      caller: 'gateway',
      audience: target.audience,
      key: target.key,
      baseUrl: target.baseUrl,
      path: '/graphql',
      body: JSON.stringify({ query, variables }),
      principal: encodePrincipal(principal),
      tls: target.tls,
      ...(target.timeoutMs ? { timeoutMs: target.timeoutMs } : {}),
    });
    return (await response.json()) as GraphQLAnswer<T>;
  };
}

/**
 * A signed POST sent to `peer` over `tls`'s connection, whatever audience the signature names:
 * for tests of signatures made for another service. (`signedPost` calls the audience itself.)
 */
export function signedPostTo(
  peer: string,
  tls: MutualTls,
  options: Omit<SignedPostOptions, 'tls' | 'signal' | 'timeoutMs'>,
): Promise<Response> {
  return fetch(options.baseUrl + options.path, {
    method: 'POST',
    headers: signedPostHeaders(options),
    body: options.body,
    dispatcher: tls.dispatcher(peer),
  });
}
