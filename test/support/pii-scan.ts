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

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// 13 to 19 digits, possibly grouped by spaces or dashes: the length of a payment card number.
const CARD_LIKE = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;

/** Whether a run of digits passes the Luhn check every payment card number passes. */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * What in a text looks like payment data or contact details: email addresses, and digit runs of
 * a card number's length that pass the Luhn check. Answers each finding once.
 */
export function paymentDataIn(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(EMAIL)) found.add(`email ${match[0]}`);
  for (const match of text.matchAll(CARD_LIKE)) {
    const digits = match[0].replace(/[ -]/g, '');
    if (luhn(digits)) found.add(`card-like number ${digits}`);
  }
  return [...found];
}

/** Payment data or contact details in any row of any table of a PostgreSQL database. */
export async function findPaymentDataInDatabase(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const found: string[] = [];
  try {
    const tables = await client.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    for (const { table_name: table } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from "${table}" t`);
      for (const { row } of rows.rows)
        for (const finding of paymentDataIn(row)) found.push(`${table}: ${finding}`);
    }
  } finally {
    await client.end();
  }
  return found;
}

/** Payment data or contact details in any file under `dir` (an embedded database's files). */
export async function findPaymentDataInFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    for (const finding of paymentDataIn((await readFile(path)).toString('latin1')))
      found.push(`${path}: ${finding}`);
  }
  return found;
}
