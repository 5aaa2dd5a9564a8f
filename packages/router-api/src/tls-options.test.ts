import { describe, expect, it } from 'vitest';
import { tlsOptions } from './tls-options.js';

describe('tlsOptions', () => {
  it('verifies the chain and the host name against the given CA', () => {
    expect(tlsOptions({ mode: 'verify', ca: 'PEM', servername: 'r1.example' })).toMatchObject({
      ca: 'PEM',
      rejectUnauthorized: true,
      servername: 'r1.example',
      minVersion: 'TLSv1.2',
    });
  });

  it('refuses a malformed pin', () => {
    expect(() => tlsOptions({ mode: 'pinned', fingerprint256: 'AB:CD' })).toThrow(/SHA-256/);
  });

  it('uses anonymous Diffie-Hellman only when asked, and then at TLS 1.2 at most', () => {
    expect(JSON.stringify(tlsOptions({ mode: 'verify', ca: 'PEM' }))).not.toContain('ADH');
    expect(tlsOptions({ mode: 'anonymous-dh' })).toMatchObject({
      maxVersion: 'TLSv1.2',
      ciphers: expect.stringContaining('@SECLEVEL=0'),
    });
  });
});
