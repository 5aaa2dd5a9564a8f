import { BadUserInputError } from '@fleet/service-kit';
import { encodeCursor } from './cursor.js';
import { auditEventToGraphQL, recordedEventOf, type RecordedRow } from './recorded-events.js';

/** The most edges one page may ask for; the schema's cost hints assume the same. */
export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;

/** `first` as given (null means the default), or BAD_USER_INPUT naming it. */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`first must be between 1 and ${MAX_PAGE_SIZE}`, 'first');
  }
  return size;
}

/**
 * An AuditEventConnection from up to `size + 1` rows in page order: the extra row only tells
 * that another page follows. `keysOf` gives the keyset position a row's cursor holds.
 */
export function eventConnection(
  rows: readonly RecordedRow[],
  size: number,
  keysOf: (row: RecordedRow) => number[],
) {
  const edges = rows.slice(0, size).map((row) => ({
    cursor: encodeCursor(keysOf(row)),
    node: auditEventToGraphQL(recordedEventOf(row)),
  }));
  return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
}
