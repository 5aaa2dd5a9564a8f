import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, loadConfig, type Principal } from '@fleet/service-kit';
import { gatewayConfigSpec } from '../config.js';
import { PlanTiers, type TierLookup } from './plan-tiers.js';
import { RateLimiter } from './rate-limiter.js';

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: { level: string; msg: string; [key: string]: unknown }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'info', destination }), lines };
}

/** Billing as the lookup sees it: a plan tier per tenant, or down; counts the questions. */
class Billing {
  readonly tiers = new Map<string, string>();
  down = false;
  calls = 0;
  readonly lookup: TierLookup = async (tenantId) => {
    this.calls++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:4103');
    return this.tiers.get(tenantId) ?? 'free';
  };
}

describe('plan tiers', () => {
  it('asks billing once per tenant and interval, sharing concurrent questions', async () => {
    const billing = new Billing();
    let now = 1_000_000;
    const tiers = new PlanTiers({
      lookup: billing.lookup,
      ttlMs: 30_000,
      logger: capturingLogger().logger,
      now: () => now,
    });
    const tenant = randomUUID();
    billing.tiers.set(tenant, 'standard');
    const answers = await Promise.all(Array.from({ length: 10 }, () => tiers.tierOf(tenant)));
    expect(answers).toEqual(Array(10).fill('standard'));
    expect(billing.calls).toBe(1);

    billing.tiers.set(tenant, 'enterprise');
    now += 29_000;
    expect(await tiers.tierOf(tenant)).toBe('standard');
    expect(billing.calls).toBe(1);
    now += 2_000;
    expect(await tiers.tierOf(tenant)).toBe('enterprise');
    expect(billing.calls).toBe(2);
    // Another tenant is asked about on its own.
    expect(await tiers.tierOf(randomUUID())).toBe('free');
    expect(billing.calls).toBe(3);
  });

  it('keeps the last known tier while billing is down, the default for a tenant never known, and warns once', async () => {
    const billing = new Billing();
    let now = 1_000_000;
    const { logger, lines } = capturingLogger();
    const tiers = new PlanTiers({ lookup: billing.lookup, ttlMs: 1_000, logger, now: () => now });
    const known = randomUUID();
    billing.tiers.set(known, 'enterprise');
    expect(await tiers.tierOf(known)).toBe('enterprise');

    billing.down = true;
    now += 1_500;
    expect(await tiers.tierOf(known)).toBe('enterprise');
    expect(await tiers.tierOf(randomUUID())).toBeUndefined();
    now += 1_500;
    expect(await tiers.tierOf(known)).toBe('enterprise');
    const warnings = lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/cannot ask billing for tenants' plans/);
    expect(warnings[0]!.reason).toBe('connect ECONNREFUSED 127.0.0.1:4103');

    billing.down = false;
    billing.tiers.set(known, 'standard');
    now += 1_500;
    expect(await tiers.tierOf(known)).toBe('standard');
    expect(lines.at(-1)!.msg).toMatch(/billing answers again/);
  });
});

describe('the rate limiter with plan tiers', () => {
  const config = loadConfig(gatewayConfigSpec, 'GATEWAY_', {
    GATEWAY_TOKEN_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64url')}`,
    GATEWAY_KEY_AAA: Buffer.alloc(32, 2).toString('base64url'),
    GATEWAY_KEY_DEVICES: Buffer.alloc(32, 3).toString('base64url'),
    GATEWAY_KEY_BILLING: Buffer.alloc(32, 4).toString('base64url'),
    GATEWAY_KEY_AUDIT: Buffer.alloc(32, 5).toString('base64url'),
    GATEWAY_RATE_LIMIT_TIERS: 'free=100/50/20,standard=1000/500/200',
    GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'standard',
  });
  const member = (tenantId: string): Principal => ({
    kind: 'user',
    userId: randomUUID(),
    tenantId,
    roles: [],
    scopes: [],
    sessionId: randomUUID(),
  });
  const limitsOf = async (limiter: RateLimiter, principal: Principal) => {
    const admission = await limiter.admitOperation({
      principal,
      address: '127.0.0.1',
      cost: 1,
      signsIn: false,
    });
    if (!admission.ok) throw new Error('refused');
    return Object.fromEntries(admission.quotas.map((quota) => [quota.policy, quota.limit]));
  };

  it("sizes a tenant's budgets by its plan's tier; an unknown tier is the default, warned of once", async () => {
    const plans = new Map<string, string | undefined>();
    const { logger, lines } = capturingLogger();
    const limiter = new RateLimiter(config, logger, (tenantId) => Promise.resolve(plans.get(tenantId)));
    const [free, unknown, none] = [randomUUID(), randomUUID(), randomUUID()];
    plans.set(free, 'free');
    plans.set(unknown, 'platinum');
    expect(await limitsOf(limiter, member(free))).toEqual({ user: 50, tenant: 100 });
    expect(await limitsOf(limiter, member(none))).toEqual({ user: 500, tenant: 1000 });
    expect(await limitsOf(limiter, member(unknown))).toEqual({ user: 500, tenant: 1000 });
    expect(await limitsOf(limiter, member(unknown))).toEqual({ user: 500, tenant: 1000 });
    const apiKey: Principal = { kind: 'apiKey', keyId: randomUUID(), tenantId: free, scopes: [] };
    expect(await limitsOf(limiter, apiKey)).toEqual({ 'api-key': 20, tenant: 100 });
    const warnings = lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ tier: 'platinum', defaultTier: 'standard' });
    await limiter.close();
  });

  it("gives the platform's operators the default tier, whatever their tenant's plan", async () => {
    const platformTenant = randomUUID();
    let asked = 0;
    const limiter = new RateLimiter(config, capturingLogger().logger, () => {
      asked++;
      return Promise.resolve('free');
    });
    const operator = { ...member(platformTenant), scopes: ['platform:read'] };
    const admin = { ...member(platformTenant), scopes: ['platform:admin'] };
    expect(await limitsOf(limiter, operator)).toEqual({ user: 500, tenant: 1000 });
    expect(await limitsOf(limiter, admin)).toEqual({ user: 500, tenant: 1000 });
    expect(asked).toBe(0);
    expect(await limitsOf(limiter, member(platformTenant))).toEqual({ user: 50, tenant: 100 });
    await limiter.close();
  });
});
