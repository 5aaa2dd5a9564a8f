import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

describe('canonical JSON', () => {
  it('writes object keys sorted at every depth, arrays in their order, without whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }, 'x'], aa: { z: 1.5, y: 'é' } })).toBe(
      '{"a":[{"c":null,"d":true},"x"],"aa":{"y":"é","z":1.5},"b":1}',
    );
  });

  it('sorts integer-like keys as text, where an object would put them first', () => {
    expect(canonicalJson({ b: 1, 10: 2, 9: 3, a: 4 })).toBe('{"10":2,"9":3,"a":4,"b":1}');
  });

  it('gives one text for values that differ only in key order, before or after a JSON round trip', () => {
    const value = { variables: { name: 'x', 2: [1, { b: 1, a: 2 }], 1: 'one' }, query: 'q' };
    const reordered = { query: 'q', variables: { 1: 'one', name: 'x', 2: [1, { a: 2, b: 1 }] } };
    const canonical = canonicalJson(value);
    expect(canonicalJson(reordered)).toBe(canonical);
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(canonical);
    expect(canonicalJson(JSON.parse(canonical))).toBe(canonical);
  });

  it('keeps only what JSON keeps, as the round trip would', () => {
    const value = { kept: 1, dropped: undefined, list: [undefined, Number.NaN], at: new Date(0) };
    expect(canonicalJson(value)).toBe(canonicalJson(JSON.parse(JSON.stringify(value))));
    expect(canonicalJson(value)).toBe('{"at":"1970-01-01T00:00:00.000Z","kept":1,"list":[null,null]}');
  });

  it('escapes keys and strings as JSON does', () => {
    expect(canonicalJson({ 'a"\n': '\u2028\\' })).toBe(JSON.stringify({ 'a"\n': '\u2028\\' }));
  });

  it('tells a value that has no JSON form', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});
