import { randomBytes, randomUUID } from 'node:crypto';
import { canonicalAad, KeyCache, openField, sealField } from '@fleet/envelope';
import { commandLineOptions } from './command-line.js';

/**
 * Field decrypts per second with a warm key cache, on one thread (so: per core). Each decrypt is
 * what aaa does to show one personal field: fetch the user's key from the cache, rebuild the
 * field's authenticated data (tenant, user, table, column, row, version), open AES-256-GCM.
 *
 *   npm run bench:vault -- --users 10000 --seconds 10
 */
const args = commandLineOptions();
const users = Number(args.get('users') ?? 10_000);
const seconds = Number(args.get('seconds') ?? 10);

const tenantId = randomUUID();
const cache = new KeyCache({ maxEntries: users * 2, ttlMs: 600_000 });
const fields: { userId: string; column: string; sealed: Buffer }[] = [];
const keys = new Map<string, Buffer>();
for (let i = 0; i < users; i++) {
  const userId = randomUUID();
  const key = randomBytes(32);
  keys.set(userId, key);
  for (const [column, value] of [
    ['email_sealed', `person${i}@example.com`],
    ['full_name_sealed', `Person Number ${i}`],
    ['phone_sealed', `+41 44 555 ${String(i).padStart(4, '0')}`],
  ] as const) {
    const aad = canonicalAad('fleet-field-v1', [tenantId, userId, 'app_user', column, userId, 1]);
    fields.push({ userId, column, sealed: sealField(key, Buffer.from(value), aad) });
  }
}
let loads = 0;
const load = (userId: string) => () => {
  loads++;
  return Promise.resolve(Buffer.from(keys.get(userId)!));
};
// Warm the cache: every key loaded once.
for (const userId of keys.keys()) await cache.get(`user:${userId}:1`, load(userId));
const loadsAfterWarmUp = loads;

const cpuBefore = process.cpuUsage();
const started = performance.now();
const deadline = started + seconds * 1000;
let decrypts = 0;
let checksum = 0;
while (performance.now() < deadline) {
  for (let i = 0; i < 1_000; i++) {
    const field = fields[(decrypts + i) % fields.length]!;
    const key = await cache.get(`user:${field.userId}:1`, load(field.userId));
    const aad = canonicalAad('fleet-field-v1', [
      tenantId,
      field.userId,
      'app_user',
      field.column,
      field.userId,
      1,
    ]);
    checksum += openField(key, field.sealed, aad).length;
  }
  decrypts += 1_000;
}
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;

console.log(
  JSON.stringify(
    {
      users,
      fields: fields.length,
      seconds: Number(elapsed.toFixed(1)),
      decryptsPerSecond: Math.round(decrypts / elapsed),
      decryptsPerCpuSecond: Math.round(decrypts / cpuSeconds),
      keyLoadsDuringWindow: loads - loadsAfterWarmUp,
      checksum,
    },
    null,
    2,
  ),
);
