import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from '@fleet/request-signing';

/** Every caller/callee pair of the federation has its own key. */
export const KEY_PAIRS = [
  ['gateway', 'aaa'],
  ['gateway', 'devices'],
  ['gateway', 'billing'],
  ['gateway', 'audit'],
  ['aaa', 'audit'],
  ['devices', 'audit'],
  ['billing', 'audit'],
  ['billing', 'devices'],
] as const;

export type PairName = `${(typeof KEY_PAIRS)[number][0]}-${(typeof KEY_PAIRS)[number][1]}`;

/** Secrets that belong to no pair: the access-token key ring (aaa issues, the gateway reads) and aaa's own. */
export const OTHER_SECRETS = ['token-keys', 'aaa-secret-key', 'aaa-api-key-pepper'] as const;
export type OtherSecretName = (typeof OTHER_SECRETS)[number];

export type Secrets = Record<PairName | OtherSecretName, string>;

/**
 * The embedded default's secrets: generated on first start into the data directory, readable by
 * its owner only, and never printed. A file with looser permissions is tightened.
 */
export function loadOrCreateSecrets(dataDir: string): Secrets {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'secrets.json');
  let stored: Partial<Secrets> = {};
  try {
    stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<Secrets>;
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`Cannot read ${path}: ${(error as Error).message}`);
    }
  }
  const secrets = {} as Secrets;
  let changed = false;
  for (const [caller, callee] of KEY_PAIRS) {
    const name: PairName = `${caller}-${callee}`;
    const existing = stored[name];
    if (existing) {
      secrets[name] = existing;
    } else {
      secrets[name] = generateKey();
      changed = true;
    }
  }
  for (const name of OTHER_SECRETS) {
    const existing = stored[name];
    if (existing) {
      secrets[name] = existing;
    } else {
      // A key ring holds `kid:key` entries; the first is the one that encrypts.
      secrets[name] = name === 'token-keys' ? `k1:${generateKey()}` : generateKey();
      changed = true;
    }
  }
  if (changed) writeFileSync(path, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}
