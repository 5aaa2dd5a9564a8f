import { PostgresDialect } from 'kysely';
import pg from 'pg';

/** int8 as a JavaScript number, matching the embedded database. */
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === (pg.types.builtins.INT8 as number)) return Number;
  return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
}

export function createPostgresDialect(connectionString: string, maxConnections: number): PostgresDialect {
  return new PostgresDialect({
    pool: new pg.Pool({ connectionString, max: maxConnections, types: { getTypeParser } }),
  });
}
