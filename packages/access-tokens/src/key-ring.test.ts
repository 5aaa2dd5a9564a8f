import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generateTokenKeyRing, parseTokenKeyRing, tokenKeyRing, type TokenKeyRing } from './index.js';

const keyText = (fill: number) => Buffer.alloc(32, fill).toString('base64url');

describe('token key rings', () => {
  it('reads kid:key entries; the first encrypts, all decrypt', () => {
    const ring = parseTokenKeyRing(`k2:${keyText(2)}, k1:${keyText(1)}`) as TokenKeyRing;
    expect(ring.current.kid).toBe('k2');
    expect(Buffer.from(ring.current.key)).toEqual(Buffer.alloc(32, 2));
    expect([...ring.keys.keys()]).toEqual(['k2', 'k1']);
    expect(Buffer.from(ring.keys.get('k1')!)).toEqual(Buffer.alloc(32, 1));
  });

  it('generates a ring of one fresh key that parses', () => {
    const text = generateTokenKeyRing('2031-01');
    expect(text).toMatch(/^2031-01:[A-Za-z0-9_-]{43}$/);
    expect((parseTokenKeyRing(text) as TokenKeyRing).current.kid).toBe('2031-01');
    expect(generateTokenKeyRing()).toMatch(/^k1:/);
    expect(generateTokenKeyRing()).not.toBe(generateTokenKeyRing());
    expect(() => generateTokenKeyRing('no spaces')).toThrow(RangeError);
  });

  it.each([
    ['', 'entry 1: must be kid:key'],
    [keyText(1), 'entry 1: must be kid:key'],
    [`k1:${keyText(1)},`, 'entry 2: must be kid:key'],
    [`:${keyText(1)}`, 'entry 1: the key id must be'],
    [`bad kid:${keyText(1)}`, 'entry 1: the key id must be'],
    [`k1:${Buffer.alloc(16, 1).toString('base64url')}`, 'entry 1: the key must be 32 bytes'],
    [`k1:${Buffer.alloc(33, 1).toString('base64url')}`, 'entry 1: the key must be 32 bytes'],
    [`k1:${Buffer.alloc(32, 1).toString('base64')}=`, 'entry 1: the key must be 32 bytes'],
    [`k1:${keyText(1)},k1:${keyText(2)}`, 'entry 2: repeats the key id'],
    [Array.from({ length: 17 }, (_, i) => `k${i}:${keyText(i)}`).join(','), 'at most 16 keys'],
  ])('refuses %j without echoing it', (raw, message) => {
    const result = parseTokenKeyRing(raw);
    expect(result).toHaveProperty('error');
    const { error } = result as { error: string };
    expect(error).toContain(message);
    for (const part of raw.split(/[,:]/)) if (part.length > 8) expect(error).not.toContain(part);
  });

  it('never prints or serializes its keys', () => {
    const text = `k2:${keyText(7)},k1:${keyText(8)}`;
    const ring = parseTokenKeyRing(text) as TokenKeyRing;
    const printed = [inspect(ring), JSON.stringify(ring), JSON.stringify({ config: ring })].join('\n');
    expect(printed).toContain('k2');
    for (const fill of [7, 8]) {
      expect(printed).not.toContain(keyText(fill));
      expect(printed).not.toContain(Buffer.alloc(32, fill).toString('base64'));
      expect(printed).not.toContain(`${fill}, ${fill}, ${fill}`);
    }
  });

  it('is a required secret configuration variable', () => {
    const variable = tokenKeyRing('Keys of access tokens.');
    expect(variable).toMatchObject({ doc: 'Keys of access tokens.', required: true, secret: true });
    expect(variable.defaultText).toBeUndefined();
    expect(variable.parse(undefined)).toEqual({ error: 'is required' });
    expect(variable.parse('k1:short')).toEqual({ error: expect.stringContaining('32 bytes') as unknown });
    const parsed = variable.parse(`k1:${keyText(3)}`);
    expect('value' in parsed && parsed.value.current.kid).toBe('k1');
  });
});
