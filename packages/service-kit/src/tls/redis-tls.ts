import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../config/config.js';
import { MIN_TLS_VERSION } from './tls-policy.js';

/**
 * The TLS options of a Redis connection: for a `rediss://` URL, the server verified against the
 * system's authorities or, when given, the authority in `caFile`; none for `redis://`. A CA file
 * beside a `redis://` URL is refused, naming `caVariable`: it would suggest TLS where there is none.
 */
export function redisTlsOptions(
  url: string,
  caFile: string | undefined,
  caVariable: string,
): ConnectionOptions | undefined {
  const secure = new URL(url).protocol === 'rediss:';
  if (!secure) {
    if (caFile)
      throw new ConfigError([`${caVariable}: set, but the Redis URL is redis:// (plain); use rediss://`]);
    return undefined;
  }
  if (!caFile) return { minVersion: MIN_TLS_VERSION };
  try {
    return { ca: readFileSync(caFile, 'utf8'), minVersion: MIN_TLS_VERSION };
  } catch (error) {
    throw new ConfigError([
      `${caVariable}: cannot read ${caFile} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    ]);
  }
}
