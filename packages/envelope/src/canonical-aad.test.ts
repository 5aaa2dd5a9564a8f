import { describe, expect, it } from 'vitest';
import { canonicalAad } from './index.js';

describe('canonical authenticated data', () => {
  it('keeps apart inputs that concatenation would confuse', () => {
    const pairs: [string, (string | number)[], string, (string | number)[]][] = [
      ['l', ['ab', 'c'], 'l', ['a', 'bc']],
      ['l', ['a', ''], 'l', ['', 'a']],
      ['l', [], 'l', ['']],
      ['l', [''], 'l', ['', '']],
      ['la', ['b'], 'l', ['ab']],
      ['l', [1], 'l', ['1']],
      ['l', [12], 'l', [1, 2]],
    ];
    for (const [labelA, fieldsA, labelB, fieldsB] of pairs) {
      expect(canonicalAad(labelA, fieldsA).equals(canonicalAad(labelB, fieldsB))).toBe(false);
    }
  });

  it('never collides across every small input', () => {
    const atoms: (string | number)[] = ['', 'a', 'b', 'ab', '1', 1, 0];
    const inputs: [string, (string | number)[]][] = [];
    for (const label of ['', 'a', 'ab']) {
      inputs.push([label, []]);
      for (const x of atoms) {
        inputs.push([label, [x]]);
        for (const y of atoms) {
          inputs.push([label, [x, y]]);
          for (const z of atoms) inputs.push([label, [x, y, z]]);
        }
      }
    }
    const encodings = new Set(inputs.map(([label, fields]) => canonicalAad(label, fields).toString('hex')));
    expect(encodings.size).toBe(inputs.length);
  });

  it('is the same for the same input', () => {
    expect(canonicalAad('fleet-field-v1', ['t', 'ü', 3])).toEqual(
      canonicalAad('fleet-field-v1', ['t', 'ü', 3]),
    );
  });

  it('refuses input with more than one encoding, or none', () => {
    expect(() => canonicalAad('l', ['\uD800'])).toThrow(TypeError);
    expect(() => canonicalAad('\uDC00', [])).toThrow(TypeError);
    expect(() => canonicalAad('l', [1.5])).toThrow(TypeError);
    expect(() => canonicalAad('l', [Number.NaN])).toThrow(TypeError);
    expect(() => canonicalAad('l', [2 ** 53])).toThrow(TypeError);
    expect(canonicalAad('l', ['😀'])).toBeInstanceOf(Buffer);
  });
});
