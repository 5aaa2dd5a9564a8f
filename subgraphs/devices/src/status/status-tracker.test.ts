import { describe, expect, it } from 'vitest';
import { parseUptime, StatusTracker, unknownStatus, type Observation } from './status-tracker.js';

const answered = (at: number, rxBytes: number, txBytes = 0): Observation => ({
  ok: true,
  at,
  cpuLoad: 5,
  freeMemory: 1_000,
  totalMemory: 2_000,
  uptimeSeconds: 60,
  interfaces: [{ name: 'ether1', running: true, disabled: false, rxBytes, txBytes }],
});
const lost = (at: number): Observation => ({ ok: false, at, error: 'timed out' });

describe('StatusTracker', () => {
  const tracker = () => new StatusTracker(unknownStatus('d', 't'), { offlineAfter: 3, onlineAfter: 2 });

  it('goes online at the first answer of a device not seen yet', () => {
    const status = tracker();
    const { status: now, stateChanged } = status.observe(answered(1_000, 0));
    expect(now).toMatchObject({ state: 'online', since: new Date(1_000).toISOString(), error: null });
    expect(stateChanged).toBe(true);
  });

  it('goes offline only after the configured unanswered polls in a row', () => {
    const status = tracker();
    status.observe(answered(0, 0));
    expect(status.observe(lost(1_000)).status.state).toBe('online');
    expect(status.observe(lost(2_000)).status.state).toBe('online');
    // An answer in between starts the count again.
    status.observe(answered(3_000, 0));
    status.observe(lost(4_000));
    status.observe(lost(5_000));
    const third = status.observe(lost(6_000));
    expect(third).toMatchObject({ stateChanged: true, status: { state: 'offline', error: 'timed out' } });
    expect(third.status.since).toBe(new Date(6_000).toISOString());
    expect(third.status.lastSeenAt).toBe(new Date(3_000).toISOString());
  });

  it('comes back online only after the configured answers in a row', () => {
    const status = tracker();
    status.observe(answered(0, 0));
    for (const at of [1, 2, 3]) status.observe(lost(at * 1_000));
    expect(status.observe(answered(4_000, 0)).status.state).toBe('offline');
    status.observe(lost(5_000));
    expect(status.observe(answered(6_000, 0)).status.state).toBe('offline');
    expect(status.observe(answered(7_000, 0))).toMatchObject({
      stateChanged: true,
      status: { state: 'online' },
    });
  });

  it('turns byte counters into bits per second, and skips a reset or a gap', () => {
    const status = tracker();
    expect(status.observe(answered(0, 1_000)).status.interfaces[0]!.rxBitsPerSecond).toBeNull();
    expect(status.observe(answered(2_000, 3_000, 500)).status.interfaces[0]).toMatchObject({
      rxBitsPerSecond: 8_000,
      txBitsPerSecond: 2_000,
    });
    // The router rebooted: its counters start again.
    expect(status.observe(answered(4_000, 100, 600)).status.interfaces[0]!.rxBitsPerSecond).toBeNull();
    status.observe(lost(6_000));
    expect(status.observe(answered(8_000, 200)).status.interfaces[0]!.rxBitsPerSecond).toBeNull();
    expect(status.observe(answered(9_000, 1_200)).status.interfaces[0]!.rxBitsPerSecond).toBe(8_000);
  });
});

describe('parseUptime', () => {
  it('reads RouterOS durations', () => {
    expect(parseUptime('1w2d3h4m5s')).toBe(604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5);
    expect(parseUptime('45s')).toBe(45);
    expect(parseUptime('3d01:02:03')).toBe(3 * 86_400 + 3_723);
    expect(parseUptime('00:00:07')).toBe(7);
  });

  it('answers null for anything else', () => {
    for (const text of [undefined, '', 'soon', '5x', '1:2']) expect(parseUptime(text)).toBeNull();
  });
});
