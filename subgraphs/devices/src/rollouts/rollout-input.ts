import { BadUserInputError } from '@fleet/service-kit';
import type { DeviceRow } from '../registry/device-registry.js';
import { renderSpec, type TemplateSpec } from '../templates/template-spec.js';
import { resolveValues, type VariableDeclaration } from '../templates/template-variables.js';

// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The devices a rollout is over: a site, a tag, or both (at least one). */
export function validateSelector(input: { site?: string | null; tag?: string | null }): {
  site: string | null;
  tag: string | null;
} {
  const site = input.site == null ? null : input.site.trim();
  const tag = input.tag == null ? null : input.tag.trim().toLowerCase();
  if (site === null && tag === null)
    throw new BadUserInputError('choose the devices by a site, a tag or both', 'site');
  if (site !== null && (site.length < 1 || site.length > 64 || CONTROL.test(site)))
    throw new BadUserInputError('site must be 1 to 64 printable characters', 'site');
  if (tag !== null && (tag.length < 1 || tag.length > 32 || CONTROL.test(tag)))
    throw new BadUserInputError('tag must be 1 to 32 printable characters', 'tag');
  return { site, tag };
}

function objectOf(value: unknown, field: string): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new BadUserInputError('must be an object of names and values', field);
  return value as Record<string, unknown>;
}

/**
 * Each selected device's values: the common `variables` with the device's own over them, its own
 * keyed by the device's id or name. Every device's values are checked against the template
 * version and rendered; the first that does not fit refuses the whole request, naming the device
 * and the variable, and so does a key that names no selected device.
 */
export function valuesPerDevice(
  devices: readonly DeviceRow[],
  version: { spec: TemplateSpec; variables: readonly VariableDeclaration[] },
  input: { variables?: unknown; deviceVariables?: unknown },
): Map<string, Record<string, unknown>> {
  const common = objectOf(input.variables, 'variables');
  const own = new Map<string, { key: string; values: Record<string, unknown> }>();
  for (const [key, values] of Object.entries(objectOf(input.deviceVariables, 'deviceVariables'))) {
    const printable = key.length <= 64 && !CONTROL.test(key);
    const field = printable ? `deviceVariables.${key}` : 'deviceVariables';
    const device = devices.find((candidate) => candidate.id === key.toLowerCase() || candidate.name === key);
    if (!device) {
      throw new BadUserInputError(
        printable ? `no selected device has the id or name ${key}` : 'a key names no selected device',
        field,
      );
    }
    if (own.has(device.id))
      throw new BadUserInputError(`device ${device.name} is given values twice (by id and by name)`, field);
    own.set(device.id, { key, values: objectOf(values, field) });
  }
  const values = new Map<string, Record<string, unknown>>();
  for (const device of devices) {
    const mine = own.get(device.id);
    const merged = { ...common, ...mine?.values };
    try {
      renderSpec(version.spec, resolveValues(version.variables, merged));
    } catch (error) {
      if (!(error instanceof BadUserInputError)) throw error;
      const field = String(error.extensions.field);
      const place = `deviceVariables.${mine?.key ?? device.name}`;
      if (field.startsWith('variables.')) {
        const variable = field.slice('variables.'.length);
        const from = mine && variable in mine.values ? place : variable in common ? 'variables' : place;
        throw new BadUserInputError(`device ${device.name}: ${error.message}`, `${from}.${variable}`);
      }
      throw new BadUserInputError(`device ${device.name}: ${error.message} (${field})`, place);
    }
    values.set(device.id, merged);
  }
  return values;
}
