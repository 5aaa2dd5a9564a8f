import { describe, expect, it } from 'vitest';
import { DocumentMemo } from './document-memo.js';

describe('values derived from a document', () => {
  it('are computed once per objects and key', () => {
    const memo = new DocumentMemo<number>();
    const schema = {};
    const document = {};
    let computed = 0;
    const compute = () => ++computed;
    expect(memo.get([schema, document], 'A', compute)).toBe(1);
    expect(memo.get([schema, document], 'A', compute)).toBe(1);
    expect(memo.get([schema, document], 'B', compute)).toBe(2);
    // Another schema, or another document with the same text, is another value.
    expect(memo.get([{}, document], 'A', compute)).toBe(3);
    expect(memo.get([schema, {}], 'A', compute)).toBe(4);
    expect(computed).toBe(4);
  });

  it('start over for a document past its bound of keys', () => {
    const memo = new DocumentMemo<string>(2);
    const document = {};
    let computed = 0;
    const compute = () => `value ${++computed}`;
    memo.get([document], 'a', compute);
    memo.get([document], 'b', compute);
    memo.get([document], 'c', compute);
    expect(computed).toBe(3);
    // 'a' was dropped with the rest when 'c' came; 'c' stays.
    expect(memo.get([document], 'c', compute)).toBe('value 3');
    expect(memo.get([document], 'a', compute)).toBe('value 4');
  });
});
