import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { RouterTls } from '@fleet/router-api';
import { BadUserInputError } from '@fleet/service-kit';
import type { RouterCredentials } from '../credentials/credential-vault.js';

export type RouterTlsModeInput = 'VERIFY' | 'PINNED' | 'ANONYMOUS_DH';

export interface RouterTlsInput {
  mode: RouterTlsModeInput;
  ca?: string | null;
  fingerprint?: string | null;
}

export interface CreateDeviceInput {
  tenantId: string;
  name: string;
  host: string;
  port: number;
  username: string;
  password: string;
  tls: RouterTlsInput;
  site?: string | null;
  tags?: readonly string[] | null;
}

/** A new device, checked and in one spelling. */
export interface ValidDevice {
  tenantId: string;
  name: string;
  host: string;
  port: number;
  credentials: RouterCredentials;
  tls: RouterTls;
  site: string | null;
  tags: string[];
}

/** What a device is called and where it belongs. */
type DeviceDetails = Pick<ValidDevice, 'tenantId' | 'name' | 'site' | 'tags'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const TAG = /^[a-z0-9][a-z0-9._:-]{0,31}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/i;
const MAX_TAGS = 20;
const MAX_CA_BYTES = 65_536;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** What a device is called and where it belongs, checked. */
export function validateDeviceDetails(input: {
  tenantId: string;
  name: string;
  site?: string | null;
  tags?: readonly string[] | null;
}): DeviceDetails {
  if (!isUuid(input.tenantId)) throw new BadUserInputError('tenantId must be a UUID', 'tenantId');
  return {
    tenantId: input.tenantId.toLowerCase(),
    name: printable(input.name.trim(), 64, 'name'),
    site: input.site == null ? null : printable(input.site.trim(), 64, 'site'),
    tags: validateTags(input.tags ?? []),
  };
}

/** What `updateDevice` changes: left out, a field stays as it is. */
export interface UpdateDeviceInput {
  /** A device always has a name: null is refused. */
  name?: string | null;
  /** null clears the site. */
  site?: string | null;
  /** null or [] clears the tags. */
  tags?: readonly string[] | null;
}

/** A device's details after an update, checked as createDevice checks them. */
export function validateDeviceUpdate(current: DeviceDetails, input: UpdateDeviceInput): DeviceDetails {
  if (input.name === undefined && input.site === undefined && input.tags === undefined)
    throw new BadUserInputError('Give at least one of name, site and tags to change', 'input');
  if (input.name === null) throw new BadUserInputError('name cannot be removed, only changed', 'name');
  return validateDeviceDetails({
    tenantId: current.tenantId,
    name: input.name ?? current.name,
    site: input.site === undefined ? current.site : input.site,
    tags: input.tags === undefined ? current.tags : (input.tags ?? []),
  });
}

/**
 * The details a restore brings back, read from a recorded state (an event's snapshot) and
 * checked as input: the state may be older than today's rules, or not what an event recorded.
 * A state without a site or tags has none.
 */
export function validateDeviceState(tenantId: string, state: Record<string, unknown>): DeviceDetails {
  const { name, site, tags } = state;
  const invalid = (message: string, field: string) =>
    new BadUserInputError(`The state to restore is invalid: ${message}`, `state.${field}`);
  if (typeof name !== 'string') throw invalid('name must be a string', 'name');
  if (site !== undefined && site !== null && typeof site !== 'string')
    throw invalid('site must be a string or null', 'site');
  if (tags !== undefined && !(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string')))
    throw invalid('tags must be a list of strings', 'tags');
  try {
    return validateDeviceDetails({ tenantId, name, site: site ?? null, tags: tags ?? [] });
  } catch (error) {
    if (error instanceof BadUserInputError) throw invalid(error.message, String(error.extensions.field));
    throw error;
  }
}

/** Checks a new device; throws BadUserInputError naming the first bad field. */
export function validateCreateDevice(input: CreateDeviceInput): ValidDevice {
  const details = validateDeviceDetails(input);
  const host = input.host.trim();
  if (isIP(host) === 0 && !HOST_NAME.test(host)) {
    throw new BadUserInputError('host must be an IP address or a host name', 'host');
  }
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    throw new BadUserInputError('port must be between 1 and 65535', 'port');
  }
  return {
    ...details,
    host: host.toLowerCase(),
    port: input.port,
    credentials: validateCredentials(input),
    tls: validateTls(input.tls),
  };
}

/** Checks a router username and password; the error never repeats them. */
export function validateCredentials(input: { username: string; password: string }): RouterCredentials {
  const username = printable(input.username, 64, 'username');
  if (input.password.length < 1 || input.password.length > 256 || CONTROL.test(input.password)) {
    throw new BadUserInputError(
      'password must be 1 to 256 characters without control characters',
      'password',
    );
  }
  return { username, password: input.password };
}

function validateTls(input: RouterTlsInput): RouterTls {
  switch (input.mode) {
    case 'VERIFY': {
      const ca = input.ca?.trim() ?? '';
      if (ca === '' || Buffer.byteLength(ca) > MAX_CA_BYTES) {
        throw new BadUserInputError(
          'tls.ca must be the PEM of the CA that signed the router certificate',
          'tls.ca',
        );
      }
      try {
        new X509Certificate(ca);
      } catch {
        throw new BadUserInputError('tls.ca is not a PEM certificate', 'tls.ca');
      }
      return { mode: 'verify', ca };
    }
    case 'PINNED': {
      const hex = (input.fingerprint ?? '').replace(/[:\s]/g, '');
      if (!FINGERPRINT.test(hex)) {
        throw new BadUserInputError(
          'tls.fingerprint must be the SHA-256 of the router certificate (64 hex digits)',
          'tls.fingerprint',
        );
      }
      return { mode: 'pinned', fingerprint256: fingerprintNotation(hex) };
    }
    case 'ANONYMOUS_DH':
      return { mode: 'anonymous-dh' };
  }
}

/** A SHA-256 fingerprint as Node prints it (`AB:CD:…`), from 64 hex digits with or without colons. */
export function fingerprintNotation(hex: string): string {
  return hex.replace(/:/g, '').toUpperCase().match(/../g)!.join(':');
}

function validateTags(tags: readonly string[]): string[] {
  const unique = [...new Set(tags.map((tag) => tag.trim().toLowerCase()))];
  if (unique.length > MAX_TAGS) throw new BadUserInputError(`at most ${MAX_TAGS} tags`, 'tags');
  for (const tag of unique) {
    if (!TAG.test(tag)) {
      throw new BadUserInputError(
        'each tag is 1 to 32 letters, digits and . _ : - (starting with a letter or digit)',
        'tags',
      );
    }
  }
  return unique.sort();
}

function printable(value: string, max: number, field: string): string {
  if (value.length < 1 || value.length > max || CONTROL.test(value)) {
    throw new BadUserInputError(`${field} must be 1 to ${max} printable characters`, field);
  }
  return value;
}
