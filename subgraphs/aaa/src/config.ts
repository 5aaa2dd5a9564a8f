import { keyProviderConfigSpec } from '@fleet/envelope';
import { tokenKeyRing } from '@fleet/access-tokens';
import {
  integer,
  producerConfigSpec,
  signingKey,
  string,
  subgraphConfigSpec,
  type ConfigOf,
} from '@fleet/service-kit';

/** Read with the prefix AAA_: `PORT` is `AAA_PORT`. */
export const aaaConfigSpec = {
  ...subgraphConfigSpec('aaa', 4101),
  ...producerConfigSpec('aaa'),
  TOKEN_KEYS: tokenKeyRing(
    'Keys of encrypted access tokens, `kid:base64url,…`; the first encrypts, all decrypt (the gateway needs the same ring).',
  ),
  SECRET_KEY: signingKey(
    'Key the digests of refresh tokens, activation and recovery codes and brute-force counters are made with (base64url, 32 bytes).',
  ),
  API_KEY_PEPPER: signingKey('Pepper of partner API key digests (base64url, 32 bytes).'),
  ...keyProviderConfigSpec('aaa'),
  ACCESS_TOKEN_TTL_S: integer({
    doc: 'Lifetime of access tokens in seconds.',
    default: 900,
    min: 30,
    max: 900,
  }),
  SESSION_TTL_H: integer({
    doc: 'Longest life of a session (its refresh tokens) in hours, however often it is refreshed.',
    default: 720,
    min: 1,
    max: 8_760,
  }),
  REFRESH_GRACE_MS: integer({
    doc: 'How long the refresh token just replaced is still accepted once (for a retry after a lost answer).',
    default: 10_000,
    min: 0,
    max: 60_000,
  }),
  ARGON2_MEMORY_KIB: integer({
    doc: 'argon2id memory cost of password hashes, in KiB (OWASP minimum 19456).',
    default: 19_456,
    min: 19_456,
    max: 4_194_304,
  }),
  ARGON2_TIME_COST: integer({ doc: 'argon2id iterations of password hashes.', default: 2, min: 2, max: 20 }),
  BOOTSTRAP_ADMIN_EMAIL: string({
    doc: 'Email of the first platform administrator, created on the first start of an empty database.',
    default: 'admin@fleet.local',
  }),
};

export type AaaConfig = ConfigOf<typeof aaaConfigSpec>;
