import { generateKeyPairSync, randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { createLogger, openDatabase } from '@fleet/service-kit';
import { ChainWriter } from '../subgraphs/audit/dist/chain/chain-writer.js';
import { CheckpointSigner } from '../subgraphs/audit/dist/chain/checkpoint-signer.js';
import { verifyAuditLog } from '../subgraphs/audit/dist/chain/verify-log.js';
import { migrations } from '../subgraphs/audit/dist/database/migrations.js';
import { eventDigest } from '@fleet/audit-chain';
import { chainedEventOf } from '../subgraphs/audit/dist/store/event-rows.js';
const N = Number(process.argv[2] ?? 100000);
const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres');
await admin.connect();
const name = 'scratch_audit_' + Date.now();
await admin.query(`create database ${name}`);
const logger = createLogger({ service: 'x', level: 'silent' });
const db = await openDatabase({ url: `postgres://postgres@127.0.0.1:5432/${name}`, dataDir: '/tmp/scratch/x', migrations, logger });
const signer = new CheckpointSigner(generateKeyPairSync('ed25519').privateKey);
const w = new ChainWriter(db.db, signer, { checkpointEveryEvents: 1000 });
const tenants = Array.from({ length: 100 }, () => randomUUID());
for (let i = 0; i < N; i += 1000) {
  const batch = Array.from({ length: 1000 }, (_, j) => ({ id: randomUUID(), source: 'devices', aggregateType: 'device', aggregateId: randomUUID(), sequence: 1, type: 'device.updated', tenantId: tenants[(i + j) % 100], actor: { kind: 'user', id: randomUUID() }, occurredAt: new Date().toISOString(), payload: { name: 'router-' + j, site: 'hq', tags: ['a', 'b'], host: '10.0.0.1', port: 8729, tlsMode: 'verify' } }));
  await w.append(batch);
}
let t = performance.now();
let rows = [];
for (let p = 1; p <= N; p += 5000) {
  rows = await db.db.selectFrom('audit_link as l').leftJoin('audit_event as e', 'e.position', 'l.position').selectAll('e').select(['l.hash','l.digest']).where('l.position', '>=', p).where('l.position', '<', p + 5000).orderBy('l.position').execute();
}
console.log('read only', ((performance.now() - t) / 1000).toFixed(2), 's');
t = performance.now();
for (let p = 1; p <= N; p += 5000) {
  await sql`select l.position from audit_link l left join audit_event e on e.position = l.position where l.position >= ${p} and l.position < ${p + 5000}`.execute(db.db);
}
console.log('read positions only', ((performance.now() - t) / 1000).toFixed(2), 's');
t = performance.now();
for (let k = 0; k < N / 5000; k++) for (const r of rows) eventDigest(chainedEventOf(r));
console.log('digest only', ((performance.now() - t) / 1000).toFixed(2), 's');
t = performance.now();
const r = await verifyAuditLog(db.db, signer.publicKeys);
console.log('verify', r.ok, r.checked, ((performance.now() - t) / 1000).toFixed(1), 's');
await db.close();
await admin.query(`drop database ${name} with (force)`);
await admin.end();
