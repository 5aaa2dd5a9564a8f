import { createCipheriv, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { decodeProtectedHeader, EncryptJWT, errors, jwtDecrypt, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  InvalidTokenError,
  issueAccessToken,
  parseTokenKeyRing,
  verifyAccessToken,
  type AccessTokenSubject,
  type InvalidTokenReason,
  type TokenKeyRing,
} from './index.js';
import { joseDecryptOptions } from './verify-access-token.js';

const ring = (text: string) => parseTokenKeyRing(text) as TokenKeyRing;
const keyText = () => randomBytes(32).toString('base64url');

const k1 = keyText();
const k2 = keyText();
const ringK1 = ring(`k1:${k1}`);
const key = ringK1.current.key;
const now = new Date('2031-03-01T12:00:00Z');
const nowSeconds = Math.floor(now.getTime() / 1000);
const later = (seconds: number) => new Date(now.getTime() + seconds * 1000);

const subject: AccessTokenSubject = {
  userId: 'user-1',
  tenantId: 'tenant-1',
  roles: ['admin'],
  scopes: ['devices:read', 'members:write'],
  sessionId: 'session-1',
};

const goodHeader = { alg: 'dir', enc: 'A256GCM', kid: 'k1', typ: 'at+jwt' };
const goodPayload = () => ({
  iss: 'fleet-aaa',
  aud: 'fleet-gateway',
  sub: 'user-1',
  tid: 'tenant-1',
  roles: ['admin'],
  scope: 'devices:read',
  sid: 'session-1',
  jti: randomUUID(),
  iat: nowSeconds,
  exp: nowSeconds + 600,
});

/**
 * A JWE made by hand with node's AES-GCM, so that tests can put in the header and payload what
 * jose would refuse to write (such as compressed plaintext under a `zip` header).
 */
function craft(header: object, payload: object, options: { deflate?: boolean; cek?: Uint8Array } = {}) {
  const encodedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', options.cek ?? key, iv);
  cipher.setAAD(Buffer.from(encodedHeader, 'ascii'));
  const json = Buffer.from(JSON.stringify(payload));
  const plaintext = options.deflate ? deflateRawSync(json) : json;
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [encodedHeader, '', iv, ciphertext, cipher.getAuthTag()]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

async function refusal(token: string, options: { ring?: TokenKeyRing; at?: Date } = {}) {
  try {
    await verifyAccessToken(options.ring ?? ringK1, token, { now: options.at ?? now });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect((error as Error).message).toBe('Invalid token');
    return (error as InvalidTokenError).reason;
  }
  throw new Error('the token was accepted');
}

async function issued(options: { ring?: TokenKeyRing; at?: Date; ttlSeconds?: number } = {}) {
  const { token } = await issueAccessToken(options.ring ?? ringK1, subject, {
    now: options.at ?? now,
    ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
  });
  return token;
}

/** Flips one bit of the first byte of a token's part. */
function flip(token: string, index: number): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0] = bytes[0]! ^ 1;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('issuing and verifying access tokens', () => {
  it('round-trips the claims, with a 15-minute default life', async () => {
    const result = await issueAccessToken(ringK1, subject, { now });
    expect(result.expiresAt).toEqual(later(900));
    const claims = await verifyAccessToken(ringK1, result.token, { now });
    expect(claims).toEqual({
      userId: 'user-1',
      tenantId: 'tenant-1',
      roles: ['admin'],
      scopes: ['devices:read', 'members:write'],
      sessionId: 'session-1',
      tokenId: result.tokenId,
      issuedAt: now,
      expiresAt: later(900),
    });
  });

  it('carries a platform-wide operator (no tenant) with no roles or scopes', async () => {
    const { token } = await issueAccessToken(
      ringK1,
      { ...subject, tenantId: null, roles: [], scopes: [] },
      { now },
    );
    expect(await verifyAccessToken(ringK1, token, { now })).toMatchObject({
      tenantId: null,
      roles: [],
      scopes: [],
    });
  });

  it('writes exactly alg, enc, kid and typ in the header, no encrypted key and nothing readable', async () => {
    const token = await issued();
    expect(decodeProtectedHeader(token)).toEqual(goodHeader);
    const parts = token.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[1]).toBe('');
    expect(Buffer.from(parts[3]!, 'base64url').toString('latin1')).not.toContain('user-1');
  });

  it('gives every token its own id', async () => {
    const a = await issueAccessToken(ringK1, subject, { now });
    const b = await issueAccessToken(ringK1, subject, { now });
    expect(a.tokenId).not.toBe(b.tokenId);
  });

  it('refuses to issue a token for longer than 15 minutes, or with malformed claims', async () => {
    await expect(issueAccessToken(ringK1, subject, { ttlSeconds: 901 })).rejects.toThrow(RangeError);
    await expect(issueAccessToken(ringK1, subject, { ttlSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(issueAccessToken(ringK1, subject, { ttlSeconds: 1.5 })).rejects.toThrow(RangeError);
    await expect(issueAccessToken(ringK1, { ...subject, scopes: ['a b'] })).rejects.toThrow(TypeError);
    await expect(issueAccessToken(ringK1, { ...subject, userId: '' })).rejects.toThrow(TypeError);
    await expect(issueAccessToken(ringK1, { ...subject, tenantId: '' })).rejects.toThrow(TypeError);
  });

  it('honours a shorter life', async () => {
    const token = await issued({ ttlSeconds: 60 });
    expect((await verifyAccessToken(ringK1, token, { now: later(59) })).expiresAt).toEqual(later(60));
    expect(await refusal(token, { at: later(60) })).toBe('expired');
  });
});

describe('refusing tokens', () => {
  it.each([
    ['ciphertext', 3],
    ['tag', 4],
    ['iv', 2],
  ])('refuses an altered %s', async (_, index) => {
    expect(await refusal(flip(await issued(), index))).toBe('undecryptable');
  });

  it('refuses an altered header, even one that still reads as a good header', async () => {
    const token = await issued();
    expect(await refusal(flip(token, 0))).toBe('malformed');
    // The same parameters, spelled differently: the header is the AAD, so decryption fails.
    const respelled = Buffer.from(JSON.stringify(goodHeader, null, 1)).toString('base64url');
    expect(await refusal([respelled, ...token.split('.').slice(1)].join('.'))).toBe('undecryptable');
  });

  it('refuses a truncated or padded token', async () => {
    const token = await issued();
    expect(await refusal(token.split('.').slice(0, 4).join('.'))).toBe('malformed');
    expect(await refusal(`${token}.`)).toBe('malformed');
    expect(await refusal('not-a-token')).toBe('malformed');
    expect(await refusal('')).toBe('malformed');
  });

  it('refuses an expired token, and accepts it up to its last second', async () => {
    const token = await issued();
    expect(await verifyAccessToken(ringK1, token, { now: later(899) })).toBeTruthy();
    expect(await refusal(token, { at: later(900) })).toBe('expired');
    expect(await refusal(token, { at: later(86_400) })).toBe('expired');
  });

  it('refuses a token issued more than 5 seconds in the future', async () => {
    const token = await issued();
    expect(await verifyAccessToken(ringK1, token, { now: later(-5) })).toBeTruthy();
    expect(await refusal(token, { at: later(-6) })).toBe('not-yet-valid');
  });

  it('refuses a token whose kid is not in the ring', async () => {
    expect(await refusal(await issued(), { ring: ring(`k2:${k2}`) })).toBe('unknown-key');
  });

  it('refuses a token made with another key under a known kid', async () => {
    expect(await refusal(await issued({ ring: ring(`k1:${keyText()}`) }))).toBe('undecryptable');
  });

  it('accepts a token of a retired key while the ring holds it, and refuses it once dropped', async () => {
    const old = await issued({ ring: ring(`k1:${k1}`) });
    const rotated = ring(`k2:${k2},k1:${k1}`);
    const fresh = await issued({ ring: rotated });
    expect(decodeProtectedHeader(fresh).kid).toBe('k2');
    expect((await verifyAccessToken(rotated, old, { now })).userId).toBe('user-1');
    expect((await verifyAccessToken(rotated, fresh, { now })).userId).toBe('user-1');
    const retired = ring(`k2:${k2}`);
    expect(await refusal(old, { ring: retired })).toBe('unknown-key');
    expect((await verifyAccessToken(retired, fresh, { now })).userId).toBe('user-1');
  });

  it('refuses tokens longer than 8 KiB before parsing them', async () => {
    expect(await refusal('a'.repeat(8_193))).toBe('oversized');
    const big = craft(goodHeader, {
      ...goodPayload(),
      roles: Array.from({ length: 800 }, (_, i) => `role-${i}`),
    });
    expect(big.length).toBeGreaterThan(8_192);
    expect(await refusal(big)).toBe('oversized');
  });

  it('accepts a hand-made token of the right shape (the helper below is sound)', async () => {
    expect((await verifyAccessToken(ringK1, craft(goodHeader, goodPayload()), { now })).scopes).toEqual([
      'devices:read',
    ]);
  });

  it('refuses a token living longer than 15 minutes', async () => {
    const payload = { ...goodPayload(), exp: nowSeconds + 901 };
    expect(await refusal(craft(goodHeader, payload))).toBe('lifetime-too-long');
    expect(await refusal(craft(goodHeader, { ...payload, exp: nowSeconds + 86_400 }))).toBe(
      'lifetime-too-long',
    );
  });

  it.each(['iss', 'aud', 'sub', 'tid', 'roles', 'scope', 'sid', 'jti', 'iat', 'exp'])(
    'refuses a token without %s',
    async (claim) => {
      const payload: Record<string, unknown> = goodPayload();
      delete payload[claim];
      expect(await refusal(craft(goodHeader, payload))).toBe('bad-claims');
    },
  );

  it.each([
    ['another issuer', { iss: 'fleet-billing' }],
    ['another audience', { aud: 'fleet-devices' }],
    ['an audience list', { aud: ['fleet-gateway', 'fleet-devices'] }],
    ['a numeric subject', { sub: 42 }],
    ['roles as text', { roles: 'admin' }],
    ['a scope list', { scope: ['devices:read'] }],
    ['a doubled space in scope', { scope: 'devices:read  tenant:read' }],
    ['an empty session', { sid: '' }],
    ['a fractional iat', { iat: nowSeconds + 0.5 }],
    ['exp before iat', { exp: nowSeconds - 1 }],
  ])('refuses a token with %s', async (_, change) => {
    const reason = await refusal(craft(goodHeader, { ...goodPayload(), ...change }));
    expect(['bad-claims', 'expired']).toContain(reason);
  });

  it.each([
    ['without typ', { alg: 'dir', enc: 'A256GCM', kid: 'k1' }],
    ['typed JWT', { ...goodHeader, typ: 'JWT' }],
    ['typed application/at+jwt', { ...goodHeader, typ: 'application/at+jwt' }],
    ['without kid', { alg: 'dir', enc: 'A256GCM', typ: 'at+jwt' }],
    ['with a crit list', { ...goodHeader, crit: ['exp'], exp: 1 }],
    ['with a jku', { ...goodHeader, jku: 'https://attacker.example/keys' }],
  ])('refuses a header %s', async (_, header) => {
    expect(await refusal(craft(header, goodPayload()))).toBe('bad-header');
  });
});

describe('algorithm confusion', () => {
  const claims = { tid: 'tenant-1', roles: ['admin'], scope: 'devices:read', sid: 'session-1' };
  const jwt = () =>
    new EncryptJWT(claims)
      .setIssuer('fleet-aaa')
      .setAudience('fleet-gateway')
      .setSubject('user-1')
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 600);

  const forgeries: [string, () => Promise<string>, InvalidTokenReason][] = [
    [
      'A256KW key wrapping with the same key',
      () =>
        jwt()
          .setProtectedHeader({ ...goodHeader, alg: 'A256KW' })
          .encrypt(key),
      'bad-header',
    ],
    [
      'A128GCM content encryption with a 16-byte key',
      () =>
        jwt()
          .setProtectedHeader({ ...goodHeader, enc: 'A128GCM' })
          .encrypt(key.slice(0, 16)),
      'bad-header',
    ],
    [
      'PBES2-HS256+A128KW with the key as password',
      () =>
        jwt()
          .setProtectedHeader({ ...goodHeader, alg: 'PBES2-HS256+A128KW' })
          .setKeyManagementParameters({ p2c: 1_000, p2s: randomBytes(16) })
          .encrypt(key),
      'bad-header',
    ],
    [
      'RSA-OAEP with a fresh key pair under the same kid',
      () =>
        jwt()
          .setProtectedHeader({ ...goodHeader, alg: 'RSA-OAEP' })
          .encrypt(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
      'bad-header',
    ],
    [
      'a JWS signed HS256 with the same key bytes',
      () =>
        new SignJWT({ ...claims, sub: 'user-1' })
          .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'at+jwt' })
          .setIssuer('fleet-aaa')
          .setAudience('fleet-gateway')
          .setJti(randomUUID())
          .setIssuedAt(nowSeconds)
          .setExpirationTime(nowSeconds + 600)
          .sign(key),
      'malformed',
    ],
    [
      'an unsecured JWT (alg none)',
      () =>
        Promise.resolve(
          new UnsecuredJWT({ ...claims, sub: 'user-1' })
            .setIssuer('fleet-aaa')
            .setAudience('fleet-gateway')
            .setIssuedAt(nowSeconds)
            .setExpirationTime(nowSeconds + 600)
            .encode(),
        ),
      'malformed',
    ],
    [
      'an unsecured JWT made to look like five parts',
      () =>
        Promise.resolve(
          [
            Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1', typ: 'at+jwt' })).toString('base64url'),
            '',
            '',
            Buffer.from(JSON.stringify(goodPayload())).toString('base64url'),
            '',
          ].join('.'),
        ),
      'bad-header',
    ],
    [
      'compressed plaintext (zip: DEF)',
      () => Promise.resolve(craft({ ...goodHeader, zip: 'DEF' }, goodPayload(), { deflate: true })),
      'bad-header',
    ],
    [
      'a dir token carrying an encrypted key',
      async () => {
        const parts = (await issued()).split('.');
        parts[1] = randomBytes(40).toString('base64url');
        return parts.join('.');
      },
      'bad-header',
    ],
  ];

  it.each(forgeries)('refuses %s', async (_, forge, reason) => {
    expect(await refusal(await forge())).toBe(reason);
  });

  // The second layer on its own: were the header check ever loosened, jose would still refuse.
  it.each(forgeries)('has jose refuse %s on its own as well', async (_, forge) => {
    const error = await jwtDecrypt(await forge(), key, joseDecryptOptions(now)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errors.JOSEError);
  });

  it('has jose refuse a wrong type on its own as well', async () => {
    const token = craft({ ...goodHeader, typ: 'JWT' }, goodPayload());
    await expect(jwtDecrypt(token, key, joseDecryptOptions(now))).rejects.toThrow('typ');
  });
});
