import { BadUserInputError } from '@fleet/service-kit';
import type { RolloutStatus } from '../database/schema.js';

/** How a rollout goes: stage sizes, the failure threshold, how long a stage may wait. */
export interface RolloutPolicy {
  /** Devices in the first stage, the canary. */
  canarySize: number;
  /** Devices in each stage after the canary. */
  batchSize: number;
  /** The threshold as a count: the rollout halts once more devices than this failed. */
  maxFailures: number | null;
  /** The threshold as a percentage of the devices of the stages queued so far. */
  maxFailurePercent: number | null;
  /** After this, a stage's jobs not yet running are canceled and count as failures. */
  stageTimeoutSeconds: number;
}

export const DEFAULT_POLICY = {
  canarySize: 1,
  batchSize: 10,
  stageTimeoutSeconds: 3_600,
} as const;

const BOUNDS = {
  canarySize: [1, 1_000],
  batchSize: [1, 1_000],
  maxFailures: [0, 1_000_000],
  maxFailurePercent: [0, 100],
  stageTimeoutSeconds: [5, 7 * 86_400],
} as const;

/** Checks a policy as the API gives it; errors name the field (`policy.batchSize`). */
export function validatePolicy(
  input: Partial<Record<keyof RolloutPolicy, number | null>> | null | undefined,
) {
  const given = input ?? {};
  const whole = (field: keyof RolloutPolicy, fallback: number | null): number | null => {
    const value = given[field] ?? fallback;
    if (value === null) return null;
    const [min, max] = BOUNDS[field];
    if (!Number.isInteger(value) || value < min || value > max)
      throw new BadUserInputError(`${field} must be a whole number from ${min} to ${max}`, `policy.${field}`);
    return value;
  };
  if (given.maxFailures != null && given.maxFailurePercent != null) {
    throw new BadUserInputError(
      'give the failure threshold as maxFailures or as maxFailurePercent, not both',
      'policy.maxFailurePercent',
    );
  }
  const maxFailurePercent = whole('maxFailurePercent', null);
  return {
    canarySize: whole('canarySize', DEFAULT_POLICY.canarySize)!,
    batchSize: whole('batchSize', DEFAULT_POLICY.batchSize)!,
    // No threshold given: the first failure halts.
    maxFailures: maxFailurePercent === null ? whole('maxFailures', 0) : null,
    maxFailurePercent,
    stageTimeoutSeconds: whole('stageTimeoutSeconds', DEFAULT_POLICY.stageTimeoutSeconds)!,
  } satisfies RolloutPolicy;
}

/** The stage (from 1) of each of `devices` devices in order: the canary first, then batches. */
export function stagesOf(devices: number, policy: Pick<RolloutPolicy, 'canarySize' | 'batchSize'>): number[] {
  return Array.from({ length: devices }, (_, position) =>
    position < policy.canarySize ? 1 : 2 + Math.floor((position - policy.canarySize) / policy.batchSize),
  );
}

/** Where a rollout stands in its current stage, counted from its jobs. */
export interface StageProgress {
  stage: number;
  stageCount: number;
  /** Jobs of the current stage still queued, waiting or running. */
  open: number;
  /** Jobs of the stages queued so far (the current one and those before). */
  queuedSoFar: number;
  /** Of those, the ones that failed or were canceled: the devices not brought to the template. */
  failures: number;
}

export type Decision =
  | { kind: 'wait' }
  | { kind: 'halt'; reason: string }
  | { kind: 'next-stage' }
  | { kind: 'finish'; status: Extract<RolloutStatus, 'succeeded' | 'completed-with-failures'> };

/**
 * What a rollout does next. It halts as soon as the threshold is passed for certain, even in
 * the middle of a stage (the percentage is taken of every device of the stages queued so far,
 * so it cannot come back under it as the stage's other jobs end); otherwise it waits for every
 * job of the stage to end, then queues the next stage or, after the last, finishes.
 */
export function decide(policy: RolloutPolicy, progress: StageProgress): Decision {
  const { stage, stageCount, open, queuedSoFar, failures } = progress;
  const passed =
    policy.maxFailurePercent === null
      ? failures > (policy.maxFailures ?? 0)
      : failures * 100 > policy.maxFailurePercent * queuedSoFar;
  if (passed) {
    const allowed =
      policy.maxFailurePercent === null
        ? `${policy.maxFailures ?? 0} allowed`
        : `${policy.maxFailurePercent}% allowed`;
    return {
      kind: 'halt',
      reason: `Stage ${stage}: ${failures} of the ${queuedSoFar} devices queued so far failed, more than the ${allowed}`,
    };
  }
  if (open > 0) return { kind: 'wait' };
  if (stage < stageCount) return { kind: 'next-stage' };
  return { kind: 'finish', status: failures === 0 ? 'succeeded' : 'completed-with-failures' };
}
