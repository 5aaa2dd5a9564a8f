import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

/** The forms a value could be stored in: its text, and its bytes as hex (how PostgreSQL prints bytea). */
function needles(values: readonly string[]): { value: string; text: Buffer; hex: string }[] {
  return values.map((value) => ({
    value,
    text: Buffer.from(value, 'utf8'),
    hex: Buffer.from(value, 'utf8').toString('hex'),
  }));
}

/** Every file under `dir` that contains one of the values, as `file: value`. */
export async function findInFiles(dir: string, values: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const wanted = needles(values);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const content = await readFile(path);
    for (const needle of wanted) {
      if (content.includes(needle.text) || content.includes(Buffer.from(needle.hex))) {
        found.push(`${path}: ${needle.value}`);
      }
    }
  }
  return found;
}

/** Every row of every table of a PostgreSQL database that contains one of the values. */
export async function findInDatabase(url: string, values: readonly string[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const found: string[] = [];
  try {
    const tables = await client.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    const wanted = needles(values);
    for (const { table_name: table } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from "${table}" t`);
      for (const { row } of rows.rows) {
        for (const needle of wanted) {
          if (row.includes(needle.value) || row.toLowerCase().includes(needle.hex))
            found.push(`${table}: ${needle.value}`);
        }
      }
    }
  } finally {
    await client.end();
  }
  return found;
}

/** Log lines that contain one of the values. */
export function findInLines(lines: readonly string[], values: readonly string[]): string[] {
  return lines.filter((line) => values.some((value) => line.includes(value)));
}
