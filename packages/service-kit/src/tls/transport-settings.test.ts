import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { ConfigError } from '../config/config.js';
import { openDatabase } from '../database/open-database.js';
import { createLogger } from '../logging/logger.js';
import { redisTlsOptions } from './redis-tls.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const postgres = await postgresSuiteEnabled();
let dir: string;
let caFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transport-settings-'));
  caFile = join(dir, 'ca.crt');
  await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TLS to the data stores', () => {
  it.runIf(postgres)(
    'refuses a PostgreSQL server without TLS when the URL asks for verify-full, never falling back',
    async () => {
      const url = new URL(ADMIN_URL);
      url.searchParams.set('sslmode', 'verify-full');
      url.searchParams.set('sslrootcert', caFile);
      // The local server runs without TLS: with verify-full there is no plaintext to fall back to.
      await expect(
        openDatabase({ url: url.toString(), dataDir: dir, migrations: {}, logger }),
      ).rejects.toThrow('The server does not support SSL connections');
    },
  );

  it('verifies a rediss:// server against the system or the given authority, and refuses a CA for redis://', () => {
    expect(redisTlsOptions('rediss://cache.internal:6380', undefined, 'X_REDIS_CA_FILE')).toEqual({
      minVersion: 'TLSv1.2',
    });
    expect(redisTlsOptions('rediss://cache.internal:6380', caFile, 'X_REDIS_CA_FILE')).toMatchObject({
      ca: expect.stringContaining('BEGIN CERTIFICATE'),
      minVersion: 'TLSv1.2',
    });
    expect(redisTlsOptions('redis://127.0.0.1:6379', undefined, 'X_REDIS_CA_FILE')).toBeUndefined();
    expect(() => redisTlsOptions('redis://127.0.0.1:6379', caFile, 'X_REDIS_CA_FILE')).toThrow(ConfigError);
    expect(() => redisTlsOptions('redis://127.0.0.1:6379', caFile, 'X_REDIS_CA_FILE')).toThrow(
      'X_REDIS_CA_FILE: set, but the Redis URL is redis:// (plain); use rediss://',
    );
    expect(() =>
      redisTlsOptions('rediss://cache.internal', join(dir, 'missing.crt'), 'X_REDIS_CA_FILE'),
    ).toThrow('X_REDIS_CA_FILE: cannot read');
  });
});
