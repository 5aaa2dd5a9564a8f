import { BadUserInputError } from '@fleet/service-kit';

/** A plan as a platform admin writes it (the schema's PlanInput). */
export interface PlanInput {
  name: string;
  deviceQuota: number;
  rateLimitTier: string;
  priceMinor: number;
  deviceDayPriceMinor: number;
  currency: string;
  trialDays: number;
  available: boolean;
}

const TIER = /^[a-z][a-z0-9-]{0,31}$/;
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const MAX_QUOTA = 1_000_000;
const MAX_TRIAL_DAYS = 365;

/** Checks a plan's input, naming the first bad field; answers the plan's columns. */
export function validatePlanInput(input: PlanInput) {
  const name = input.name.trim();
  if (name === '' || name.length > 64)
    throw new BadUserInputError('A plan name is 1 to 64 characters', 'input.name');
  wholeNumber(input.deviceQuota, 0, MAX_QUOTA, 'input.deviceQuota', 'A device quota');
  if (!TIER.test(input.rateLimitTier))
    throw new BadUserInputError(
      'A rate-limit tier is the name of one of the gateway tiers (lower-case letters, digits, dashes)',
      'input.rateLimitTier',
    );
  wholeNumber(input.priceMinor, 0, 2_147_483_647, 'input.priceMinor', 'A price');
  wholeNumber(input.deviceDayPriceMinor, 0, 2_147_483_647, 'input.deviceDayPriceMinor', 'A device-day price');
  if (!CURRENCIES.has(input.currency))
    throw new BadUserInputError(`"${input.currency}" is not an ISO 4217 currency code`, 'input.currency');
  wholeNumber(input.trialDays, 0, MAX_TRIAL_DAYS, 'input.trialDays', 'A trial');
  return {
    name,
    device_quota: input.deviceQuota,
    rate_limit_tier: input.rateLimitTier,
    price_minor: input.priceMinor,
    device_day_price_minor: input.deviceDayPriceMinor,
    currency: input.currency,
    trial_days: input.trialDays,
    available: input.available,
  };
}

function wholeNumber(value: number, min: number, max: number, field: string, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const unit = field.endsWith('Minor') ? ' in minor units' : field.endsWith('Days') ? ' days' : '';
    throw new BadUserInputError(
      value < 0 ? `${what} cannot be negative` : `${what} is a whole number from ${min} to ${max}${unit}`,
      field,
    );
  }
}
