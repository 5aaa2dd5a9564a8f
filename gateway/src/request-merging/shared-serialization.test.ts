import { describe, expect, it } from 'vitest';
import { stringifyResult } from './shared-serialization.js';

describe('the JSON of results', () => {
  it('is what Apollo writes by default: the result and a newline', () => {
    const result = { data: { me: { id: 'u1' } } };
    expect(stringifyResult(result)).toBe(`${JSON.stringify(result)}\n`);
  });

  it('is written once for copies of one shared result, and apart for each other result', () => {
    const data = { me: { id: 'u1' } };
    const first = stringifyResult({ data });
    // The leader's and the followers' copies: one data object.
    expect(stringifyResult({ data })).toBe(first);
    // Changed in place (which nothing does to a shared result): the text written first stays.
    data.me.id = 'u2';
    expect(stringifyResult({ data })).toBe(first);
    // Another execution's result is serialized for itself, equal or not.
    expect(stringifyResult({ data: { me: { id: 'u2' } } })).toBe('{"data":{"me":{"id":"u2"}}}\n');
  });

  it('is never shared for a result with errors or extensions', () => {
    const data = { me: null };
    expect(stringifyResult({ data })).toBe('{"data":{"me":null}}\n');
    expect(stringifyResult({ data, errors: [{ message: 'Not allowed' }] })).toBe(
      '{"data":{"me":null},"errors":[{"message":"Not allowed"}]}\n',
    );
    expect(stringifyResult({ data, extensions: { requestId: 'r2' } })).toBe(
      '{"data":{"me":null},"extensions":{"requestId":"r2"}}\n',
    );
  });
});
