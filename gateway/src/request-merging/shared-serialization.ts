import type { FormattedExecutionResult } from 'graphql';

/** Each shared result's JSON, by its data object: gone with it. */
const serialized = new WeakMap<object, string>();

/**
 * The response body of a result (what Apollo Server writes by default: the JSON and a newline),
 * serialized once for all the requests merged into one execution. They receive copies of one
 * result that share its `data` object (in-flight-executions.ts): the first to answer serializes
 * it and the others send the same text. A result with errors or extensions is its own response's
 * and is serialized for it alone; so is every result that was not shared, which is never found
 * here again.
 */
export function stringifyResult(result: FormattedExecutionResult): string {
  const { data, errors, extensions } = result;
  if (errors !== undefined || extensions !== undefined || typeof data !== 'object' || data === null) {
    return `${JSON.stringify(result)}\n`;
  }
  let text = serialized.get(data);
  if (text === undefined) {
    text = `${JSON.stringify(result)}\n`;
    serialized.set(data, text);
  }
  return text;
}
