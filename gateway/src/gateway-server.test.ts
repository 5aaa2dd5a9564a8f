import { describe, expect, it } from 'vitest';

describe('the gateway module', () => {
  it('turns Apollo telemetry off before any gateway is constructed', async () => {
    delete process.env.APOLLO_TELEMETRY_DISABLED;
    await import('./gateway-server.js');
    expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('true');
  });
});
