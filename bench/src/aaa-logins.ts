import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKmsSim } from '@fleet/kms-sim';
import { startFederation, trustGatewayCertificate } from '@fleet/launcher';
import { addMember, createTenant, graphql, LOGIN, signInAdmin } from './bench-federation.js';
import { processUsage } from './process-usage.js';
import { commandLineOptions } from './command-line.js';

/**
 * Password logins per second through the gateway, with argon2id at its configured cost, and the
 * KMS calls they cause once keys are warm. The whole federation runs as `npm start` runs it, with
 * aaa's keys wrapped by a local KMS-protocol server reached through the real AWS SDK.
 *
 *   npm run bench:logins -- --logins 1000 --concurrency 16 --members 20
 */
const args = commandLineOptions();
const logins = Number(args.get('logins') ?? 1_000);
const concurrency = Number(args.get('concurrency') ?? 16);
const memberCount = Number(args.get('members') ?? 20);

const kms = await startKmsSim();
const dataDir = await mkdtemp(join(tmpdir(), 'fleet-bench-'));
const federation = await startFederation({
  dataDir,
  env: {},
  ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0 },
  overrides: {
    aaa: {
      AAA_VAULT_PROVIDER: 'aws-kms',
      AAA_KMS_ENDPOINT: kms.url,
      AAA_KMS_KEY_ID: kms.createKey(),
      AAA_KMS_ACCESS_KEY_ID: 'bench',
      AAA_KMS_SECRET_ACCESS_KEY: 'bench',
      AAA_LOG_LEVEL: 'warn',
    },
    // Every login comes from one address here: lift the per-address sign-in budget.
    gateway: { GATEWAY_LOG_LEVEL: 'warn', GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '100000000' },
    audit: { AUDIT_LOG_LEVEL: 'warn' },
    devices: { DEVICES_LOG_LEVEL: 'warn' },
    billing: { BILLING_LOG_LEVEL: 'warn' },
  },
  output: 'capture',
});
// The gateway serves HTTPS with a certificate of the federation's own authority.
trustGatewayCertificate(federation.caFile);

try {
  const url = federation.gatewayUrl;
  const adminToken = await signInAdmin(federation);
  const tenant = { id: await createTenant(url, adminToken, 'bench'), slug: 'bench' };
  const members: { tenant: string; email: string; password: string }[] = [];
  for (let i = 0; i < memberCount; i++) {
    members.push(await addMember(url, adminToken, tenant, `member${i}@bench.example`, ['viewer']));
  }
  const login = (n: number) => graphql(url, LOGIN, { i: members[n % members.length]! });

  // Warm-up: every member once, so every key the logins need has been unwrapped.
  for (let i = 0; i < members.length; i++) await login(i);
  kms.resetCalls();

  const aaaPid = federation.pid('aaa')!;
  const cpuBefore = processUsage(aaaPid).cpuSeconds;
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < logins) {
        const n = next++;
        const t0 = performance.now();
        await login(n);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const aaaCpu = processUsage(aaaPid).cpuSeconds - cpuBefore;
  latencies.sort((a, b) => a - b);
  const kmsCalls = Object.values(kms.calls()).reduce((sum, n) => sum + n, 0);
  console.log(
    JSON.stringify(
      {
        logins,
        concurrency,
        members: memberCount,
        cores: availableParallelism(),
        seconds: Number(elapsed.toFixed(1)),
        loginsPerSecond: Number((logins / elapsed).toFixed(1)),
        p50Ms: Math.round(latencies[Math.floor(latencies.length * 0.5)]!),
        p95Ms: Math.round(latencies[Math.floor(latencies.length * 0.95)]!),
        aaaCores: Number((aaaCpu / elapsed).toFixed(2)),
        kmsCallsPer1000Logins: (kmsCalls * 1000) / logins,
      },
      null,
      2,
    ),
  );
} finally {
  await federation.stop();
  await kms.stop();
  await rm(dataDir, { recursive: true, force: true });
}
