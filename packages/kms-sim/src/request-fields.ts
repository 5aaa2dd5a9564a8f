import type { EncryptionContext } from './encryption-context.js';
import { KmsError } from './kms-error.js';

/** A request body as the JSON 1.1 protocol carries it. */
export type RequestBody = Readonly<Record<string, unknown>>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function requiredString(body: RequestBody, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined || value === '') throw invalid(`${name} is required`);
  return value;
}

export function optionalString(body: RequestBody, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be a string`);
  return value;
}

export function optionalInteger(body: RequestBody, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(`${name} must be an integer`);
  return value;
}

/** A blob member: base64 text on the wire, strictly checked. */
export function requiredBlob(body: RequestBody, name: string): Buffer {
  const value = requiredString(body, name);
  if (!BASE64.test(value)) throw invalid(`${name} must be base64`);
  return Buffer.from(value, 'base64');
}

/** An encryption context member; absent means the empty context, as with KMS. */
export function encryptionContext(body: RequestBody, name: string): EncryptionContext {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${name} must be a map`);
  const context: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'string') throw invalid(`${name} values must be strings`);
    context[key] = entry;
  }
  return context;
}

function invalid(message: string): KmsError {
  return new KmsError('ValidationException', message);
}
