import { monthOf, parseMonth } from '../subscriptions/billing-month.js';

/**
 * The bounds of the month `YYYY-MM` names, or undefined for any other text; years before 100
 * are refused too (Date would read them as 19xx).
 */
export function monthOfText(text: string): { start: Date; end: Date } | undefined {
  const bounds = parseMonth(text);
  return bounds && monthOf(bounds.start) === text ? bounds : undefined;
}
