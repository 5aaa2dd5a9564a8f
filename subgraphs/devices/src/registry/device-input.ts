import { isIP } from 'node:net';
import { BadUserInputError } from '@fleet/service-kit';

export interface CreateDeviceInput {
  tenantId: string;
  name: string;
  host: string;
  port: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Checks a new device; throws BadUserInputError naming the first bad field. */
export function validateCreateDevice(input: CreateDeviceInput): CreateDeviceInput {
  if (!isUuid(input.tenantId)) throw new BadUserInputError('tenantId must be a UUID', 'tenantId');
  const name = input.name.trim();
  if (name.length < 1 || name.length > 64 || CONTROL.test(name)) {
    throw new BadUserInputError('name must be 1 to 64 printable characters', 'name');
  }
  const host = input.host.trim();
  if (isIP(host) === 0 && !HOST_NAME.test(host)) {
    throw new BadUserInputError('host must be an IP address or a host name', 'host');
  }
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    throw new BadUserInputError('port must be between 1 and 65535', 'port');
  }
  return { tenantId: input.tenantId.toLowerCase(), name, host: host.toLowerCase(), port: input.port };
}
