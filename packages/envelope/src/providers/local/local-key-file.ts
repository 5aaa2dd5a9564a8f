import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeyProviderError } from '../key-provider.js';

/**
 * The local provider's key file: master keys by id, and which one wraps new keys.
 *
 *   { "format": 1, "current": "<id>", "keys": { "<id>": "<base64url of 32 bytes>" } }
 *
 * Only its owner may read or write it (mode 0600 or stricter). A file open to group or others is
 * refused, never tightened silently: whoever could read it may already have copied the keys.
 */
export interface KeyFile {
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

const FORMAT = 1;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** 32 bytes as unpadded base64url. */
const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

/** A new master key id: random, so ids from different files never meet. */
export function newKeyId(): string {
  return randomBytes(6).toString('hex');
}

/** Reads and checks the key file; undefined when there is none. */
export async function readKeyFile(path: string): Promise<KeyFile | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    // The mode is read from the open file, so it is the mode of what is read.
    const stats = await handle.stat();
    if (!stats.isFile()) throw fileError(path, 'is not a regular file');
    if ((stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw fileError(
        path,
        `is open to group or others (mode ${mode}); it holds master keys. Restrict it with: chmod 600 ${path}`,
      );
    }
    return parseKeyFile(path, await handle.readFile('utf8'));
  } finally {
    await handle.close();
  }
}

/**
 * Creates the key file with one new key: its directory with mode 0700 if missing, the file with
 * mode 0600. The file appears whole or not at all, and never replaces one that exists: when two
 * processes start at once, both end up with the file that was first.
 */
export async function createKeyFile(path: string): Promise<KeyFile> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const id = newKeyId();
  const file: KeyFile = { current: id, keys: new Map([[id, randomBytes(32)]]) };
  const temp = await writeTemp(path, file);
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const existing = await readKeyFile(path);
    if (!existing) throw fileError(path, 'vanished while it was being created');
    return existing;
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(dirname(path));
  return file;
}

/**
 * Replaces the key file atomically: a temporary file (mode 0600) is written and flushed, then
 * renamed over it, and the directory flushed, so a crash leaves the old file or the new one, never
 * a mix, and a new key that data has been wrapped under is on disk before it is used.
 */
export async function replaceKeyFile(path: string, file: KeyFile): Promise<void> {
  const temp = await writeTemp(path, file);
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

async function writeTemp(path: string, file: KeyFile): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const keys = Object.fromEntries([...file.keys].map(([id, key]) => [id, key.toString('base64url')]));
  const text = `${JSON.stringify({ format: FORMAT, current: file.current, keys }, null, 2)}\n`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  return temp;
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function parseKeyFile(path: string, text: string): KeyFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fileError(path, 'is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw fileError(path, 'is not a JSON object');
  const { format, current, keys } = parsed as Record<string, unknown>;
  if (format !== FORMAT) throw fileError(path, `has an unknown format (expected ${FORMAT})`);
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw fileError(path, 'has no "keys" object');
  }
  const decoded = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(keys as Record<string, unknown>)) {
    if (!KEY_ID.test(id))
      throw fileError(path, 'has a key id that is not 1 to 64 letters, digits, "-" or "_"');
    if (typeof value !== 'string' || !KEY_TEXT.test(value)) {
      throw fileError(path, `has a key "${id}" that is not 32 bytes of base64url`);
    }
    decoded.set(id, Buffer.from(value, 'base64url'));
  }
  if (typeof current !== 'string' || !decoded.has(current)) {
    throw fileError(path, 'has no "current" naming one of its keys');
  }
  return { current, keys: decoded };
}

function fileError(path: string, problem: string): KeyProviderError {
  return new KeyProviderError('config', `The master key file ${path} ${problem}`);
}
