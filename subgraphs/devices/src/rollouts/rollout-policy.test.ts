import { describe, expect, it } from 'vitest';
import { decide, stagesOf, validatePolicy, type RolloutPolicy } from './rollout-policy.js';

const byCount = (maxFailures: number): RolloutPolicy => ({
  canarySize: 1,
  batchSize: 2,
  maxFailures,
  maxFailurePercent: null,
  stageTimeoutSeconds: 60,
});
const byPercent = (maxFailurePercent: number): RolloutPolicy => ({
  ...byCount(0),
  maxFailures: null,
  maxFailurePercent,
});

describe('rollout stages', () => {
  it('puts the canary first, then batches, the last one holding what is left', () => {
    expect(stagesOf(6, { canarySize: 1, batchSize: 2 })).toEqual([1, 2, 2, 3, 3, 4]);
    expect(stagesOf(5, { canarySize: 2, batchSize: 10 })).toEqual([1, 1, 2, 2, 2]);
    expect(stagesOf(2, { canarySize: 5, batchSize: 1 })).toEqual([1, 1]);
  });
});

describe('the rollout policy as given', () => {
  it('fills in the defaults, and the first failure halts when no threshold is given', () => {
    expect(validatePolicy(undefined)).toEqual({
      canarySize: 1,
      batchSize: 10,
      maxFailures: 0,
      maxFailurePercent: null,
      stageTimeoutSeconds: 3600,
    });
    expect(validatePolicy({ maxFailurePercent: 25 })).toMatchObject({
      maxFailures: null,
      maxFailurePercent: 25,
    });
  });

  it('refuses values out of bounds and two thresholds, naming the field', () => {
    for (const [policy, field] of [
      [{ canarySize: 0 }, 'policy.canarySize'],
      [{ batchSize: 1.5 }, 'policy.batchSize'],
      [{ maxFailures: -1 }, 'policy.maxFailures'],
      [{ maxFailurePercent: 101 }, 'policy.maxFailurePercent'],
      [{ stageTimeoutSeconds: 1 }, 'policy.stageTimeoutSeconds'],
      [{ maxFailures: 1, maxFailurePercent: 10 }, 'policy.maxFailurePercent'],
    ] as const) {
      expect(() => validatePolicy(policy), field).toThrow(
        expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field } }),
      );
    }
  });
});

describe('what a rollout does next', () => {
  const progress = { stage: 2, stageCount: 3, open: 0, queuedSoFar: 3, failures: 0 };

  it('waits while a job of the stage has not ended, then queues the next stage, then finishes', () => {
    expect(decide(byCount(0), { ...progress, open: 1 })).toEqual({ kind: 'wait' });
    expect(decide(byCount(0), progress)).toEqual({ kind: 'next-stage' });
    expect(decide(byCount(0), { ...progress, stage: 3, queuedSoFar: 5 })).toEqual({
      kind: 'finish',
      status: 'succeeded',
    });
    expect(decide(byCount(1), { ...progress, stage: 3, queuedSoFar: 5, failures: 1 })).toEqual({
      kind: 'finish',
      status: 'completed-with-failures',
    });
  });

  it('halts on a count passed, as soon as it is passed, even in the middle of a stage', () => {
    expect(decide(byCount(1), { ...progress, failures: 1 })).toEqual({ kind: 'next-stage' });
    expect(decide(byCount(1), { ...progress, open: 1, failures: 2 })).toEqual({
      kind: 'halt',
      reason: 'Stage 2: 2 of the 3 devices queued so far failed, more than the 1 allowed',
    });
  });

  it('halts on a percentage of the devices queued so far, once it cannot come back under it', () => {
    // 1 of 3 is 33%: over 30, within 34.
    expect(decide(byPercent(30), progress)).toEqual({ kind: 'next-stage' });
    expect(decide(byPercent(30), { ...progress, failures: 1 })).toMatchObject({ kind: 'halt' });
    expect(decide(byPercent(34), { ...progress, failures: 1 })).toEqual({ kind: 'next-stage' });
    // A failed canary is 100% of the devices so far.
    expect(decide(byPercent(50), { stage: 1, stageCount: 3, open: 0, queuedSoFar: 1, failures: 1 })).toEqual({
      kind: 'halt',
      reason: 'Stage 1: 1 of the 1 devices queued so far failed, more than the 50% allowed',
    });
    expect(decide(byPercent(100), { ...progress, failures: 3 })).toEqual({ kind: 'next-stage' });
  });
});
