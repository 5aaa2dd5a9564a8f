import { describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@fleet/service-kit';
import { gatewayConfigSpec } from '../config.js';
import { parseTiers } from './rate-limit-config.js';
import { RateLimiter } from './rate-limiter.js';

describe('rate-limit tiers', () => {
  it('reads name=tenant/user/apiKey entries', () => {
    expect(parseTiers('free=100/50/20, big=1000/500/200')).toEqual(
      new Map([
        ['free', { tenant: 100, user: 50, apiKey: 20 }],
        ['big', { tenant: 1000, user: 500, apiKey: 200 }],
      ]),
    );
  });

  it.each([
    ['free=100/50', /"free=100\/50" is not name=tenant\/user\/apiKey/],
    ['free=100/0/20', /tier free must allow at least 1 point/],
    ['free=1/1/1,free=2/2/2', /tier free is listed twice/],
    ['Free=1/1/1', /is not name=/],
  ])('refuses %s', (text, message) => {
    expect(() => parseTiers(text)).toThrow(message);
  });

  it('refuses a default tier that is not listed, naming the variable', () => {
    const config = loadConfig(gatewayConfigSpec, 'GATEWAY_', {
      GATEWAY_TOKEN_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64url')}`,
      GATEWAY_KEY_AAA: Buffer.alloc(32, 2).toString('base64url'),
      GATEWAY_KEY_DEVICES: Buffer.alloc(32, 3).toString('base64url'),
      GATEWAY_KEY_BILLING: Buffer.alloc(32, 4).toString('base64url'),
      GATEWAY_KEY_AUDIT: Buffer.alloc(32, 5).toString('base64url'),
      GATEWAY_RATE_LIMIT_TIERS: 'small=10/10/10',
    });
    expect(() => new RateLimiter(config, createLogger({ service: 'test', level: 'silent' }))).toThrow(
      /GATEWAY_RATE_LIMIT_DEFAULT_TIER: must be one of small/,
    );
  });
});
