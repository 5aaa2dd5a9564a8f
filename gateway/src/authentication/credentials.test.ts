import { describe, expect, it } from 'vitest';
import { readCredentials } from './credentials.js';

describe('reading credentials', () => {
  it.each([
    [{}, { kind: 'none' }],
    [{ authorization: 'Bearer abc.def' }, { kind: 'bearer', token: 'abc.def' }],
    [{ authorization: 'bearer abc' }, { kind: 'bearer', token: 'abc' }],
    [{ authorization: 'Bearer   abc' }, { kind: 'bearer', token: 'abc' }],
    [{ 'x-api-key': 'fk_abc' }, { kind: 'apiKey', key: 'fk_abc' }],
    [{ 'x-api-key': '' }, { kind: 'apiKey', key: '' }],
    [{ authorization: 'Basic dXNlcjpwYXNz' }, { kind: 'malformed', reason: 'not-bearer' }],
    [{ authorization: 'Bearer' }, { kind: 'malformed', reason: 'not-bearer' }],
    [{ authorization: 'Bearer a b' }, { kind: 'malformed', reason: 'not-bearer' }],
    [{ authorization: '' }, { kind: 'malformed', reason: 'not-bearer' }],
    [
      { authorization: 'Bearer abc', 'x-api-key': 'fk_abc' },
      { kind: 'malformed', reason: 'both-credentials' },
    ],
    [{ 'x-api-key': ['fk_a', 'fk_b'] }, { kind: 'malformed', reason: 'repeated-header' }],
  ])('reads %j', (headers, credentials) => {
    expect(readCredentials(headers)).toEqual(credentials);
  });
});
