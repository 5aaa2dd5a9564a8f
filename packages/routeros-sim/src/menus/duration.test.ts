import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it('formats like a RouterOS uptime', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(38_999)).toBe('38s');
    expect(formatDuration(((4 * 24 + 15) * 3600 + 20 * 60 + 38) * 1000)).toBe('4d15h20m38s');
    expect(formatDuration((9 * 24 * 3600 + 5) * 1000)).toBe('1w2d5s');
    expect(formatDuration(3600_000)).toBe('1h');
  });

  it('parses the forms commands take', () => {
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('00:01:30')).toBe(90_000);
    expect(parseDuration('1w1d')).toBe(8 * 24 * 3600_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});
