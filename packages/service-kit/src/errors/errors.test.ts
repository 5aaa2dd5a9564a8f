import { describe, expect, it } from 'vitest';
import { maskError } from './errors.js';

describe('maskError', () => {
  it('keeps the message and field of errors meant for the client', () => {
    expect(
      maskError({
        message: 'name is too long',
        path: ['createDevice'],
        extensions: { code: 'BAD_USER_INPUT', field: 'name', extra: 1 },
      }),
    ).toEqual({
      message: 'name is too long',
      path: ['createDevice'],
      extensions: { code: 'BAD_USER_INPUT', field: 'name' },
    });
  });

  it('replaces anything else with a generic internal error, without stack or detail', () => {
    const masked = maskError({
      message: 'relation "device" does not exist',
      path: ['devices'],
      extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at db.ts:1'], exception: { sql: 'select' } },
    });
    expect(masked).toEqual({
      message: 'Internal server error',
      path: ['devices'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('masks errors without a code', () => {
    expect(maskError({ message: 'connect ECONNREFUSED 127.0.0.1:4103' }).message).toBe(
      'Internal server error',
    );
  });
});
