import { describe, expect, it } from 'vitest';
import { decodeForm } from './form-encoding.js';

describe('form decoding', () => {
  it('nests bracketed keys into hashes and indexed ones into lists', () => {
    const decoded = decodeForm(
      'mode=subscription&line_items[0][quantity]=1&line_items[0][price_data][product_data][name]=Pro+plan' +
        '&line_items[1][quantity]=2&metadata[tenantId]=t%26x&expand[]=a&expand[]=b',
    );
    expect(JSON.parse(JSON.stringify(decoded))).toEqual({
      mode: 'subscription',
      line_items: [{ quantity: '1', price_data: { product_data: { name: 'Pro plan' } } }, { quantity: '2' }],
      metadata: { tenantId: 't&x' },
      expand: ['a', 'b'],
    });
  });

  it('keeps hashes whose keys are not 0…n-1 as hashes', () => {
    expect(JSON.parse(JSON.stringify(decodeForm('a[1]=x&b[0]=y&b[2]=z')))).toEqual({
      a: { '1': 'x' },
      b: { '0': 'y', '2': 'z' },
    });
  });

  it('refuses a key given twice, as a value and a hash, and malformed encoding', () => {
    expect(() => decodeForm('a=1&a=2')).toThrow(/given twice/);
    expect(() => decodeForm('a=1&a[b]=2')).toThrow(/given twice/);
    expect(() => decodeForm('a[b]=1&a=2')).toThrow(/given twice/);
    expect(() => decodeForm('a=%E0%A4%A')).toThrow(/not valid form encoding/);
    expect(() => decodeForm('a]b=1')).toThrow(/Invalid parameter name/);
  });

  it('gives no key a way into prototypes', () => {
    const decoded = decodeForm('__proto__[polluted]=yes&constructor[prototype][x]=1');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(decoded))).toEqual({
      ['__proto__']: { polluted: 'yes' },
      constructor: { prototype: { x: '1' } },
    });
  });
});
