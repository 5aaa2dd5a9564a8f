import { describe, expect, it } from 'vitest';
import { parseInstant } from './instant.js';

const refusal = (value: string) => {
  try {
    parseInstant(value, 'asOf');
  } catch (error) {
    return (error as { extensions: Record<string, unknown> }).extensions;
  }
  throw new Error(`${value} was accepted`);
};

describe('parseInstant', () => {
  it('reads date-times with an offset, to the millisecond', () => {
    expect(parseInstant('2025-03-01T12:00:00Z', 'asOf').toISOString()).toBe('2025-03-01T12:00:00.000Z');
    expect(parseInstant('2025-03-01T13:00:00.250+01:00', 'asOf').toISOString()).toBe(
      '2025-03-01T12:00:00.250Z',
    );
    expect(parseInstant('2025-03-01T07:30-04:30', 'asOf').toISOString()).toBe('2025-03-01T12:00:00.000Z');
    expect(parseInstant('2024-02-29T23:59:59.999Z', 'asOf').toISOString()).toBe('2024-02-29T23:59:59.999Z');
  });

  it('refuses anything else as BAD_USER_INPUT naming the argument', () => {
    for (const value of [
      '',
      'yesterday',
      '2025-03-01',
      '2025-03-01T12:00:00',
      '2025-03-01 12:00:00Z',
      '2025-03-01T12:00:00.0001Z',
      '2025-02-29T00:00:00Z',
      '2025-04-31T00:00:00Z',
      '2025-13-01T00:00:00Z',
      '2025-03-01T24:00:00Z',
      '2025-03-01T12:60:00Z',
      '2025-03-01T12:00:60Z',
      '2025-03-01T12:00:00+24:00',
      '1741000000000',
      '2025-03-01T12:00:00Z\n',
    ]) {
      expect(refusal(value), value).toEqual({ code: 'BAD_USER_INPUT', field: 'asOf' });
    }
  });
});
