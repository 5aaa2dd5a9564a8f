import { describe, expect, it } from 'vitest';
import type { DeviceRow } from '../registry/device-registry.js';
import { validateSelector, valuesPerDevice } from './rollout-input.js';

const device = (id: string, name: string) => ({ id, name }) as DeviceRow;
const devices = [
  device('00000000-0000-4000-8000-00000000000a', 'ams-1'),
  device('00000000-0000-4000-8000-00000000000b', 'ams-2'),
];
const version = {
  spec: { identity: { name: '${site}-${unit}' }, addresses: [{ address: '${lan}', interface: 'bridge' }] },
  variables: [
    { name: 'site', type: 'string' as const },
    { name: 'unit', type: 'integer' as const },
    { name: 'lan', type: 'ipv4Cidr' as const, default: '192.168.88.1/24' },
  ],
};

const refusal = (field: string, message: string): unknown =>
  expect.objectContaining({ message, extensions: { code: 'BAD_USER_INPUT', field } });

describe('the values of each device of a rollout', () => {
  it("merges each device's own values, by id or by name, over the common ones", () => {
    const values = valuesPerDevice(devices, version, {
      variables: { site: 'ams', unit: 0 },
      deviceVariables: {
        'ams-1': { unit: 1 },
        '00000000-0000-4000-8000-00000000000B': { unit: 2, lan: '10.0.0.1/24' },
      },
    });
    expect([...values]).toEqual([
      ['00000000-0000-4000-8000-00000000000a', { site: 'ams', unit: 1 }],
      ['00000000-0000-4000-8000-00000000000b', { site: 'ams', unit: 2, lan: '10.0.0.1/24' }],
    ]);
  });

  it('names the device and where the bad value came from', () => {
    expect(() =>
      valuesPerDevice(devices, version, {
        variables: { site: 'ams' },
        deviceVariables: { 'ams-1': { unit: 1 } },
      }),
    ).toThrow(refusal('deviceVariables.ams-2.unit', 'device ams-2: unit is required'));
    expect(() =>
      valuesPerDevice(devices, version, {
        variables: { site: 'ams', unit: 1 },
        deviceVariables: { 'ams-2': { lan: '10.0.0.1' } },
      }),
    ).toThrow(
      refusal(
        'deviceVariables.ams-2.lan',
        'device ams-2: lan must be an IPv4 address with a prefix length, like 192.168.88.1/24',
      ),
    );
    expect(() => valuesPerDevice(devices, version, { variables: { site: 'ams', unit: 'one' } })).toThrow(
      refusal('variables.unit', 'device ams-1: unit must be a whole number'),
    );
    expect(() =>
      valuesPerDevice(devices, version, {
        variables: { site: 'ams', unit: 1 },
        deviceVariables: { 'ams-1': { vlan: 3 } },
      }),
    ).toThrow(refusal('deviceVariables.ams-1.vlan', 'device ams-1: the template declares no variable vlan'));
  });

  it('refuses values for a device not selected, or given twice', () => {
    expect(() => valuesPerDevice(devices, version, { deviceVariables: { 'ams-3': {} } })).toThrow(
      refusal('deviceVariables.ams-3', 'no selected device has the id or name ams-3'),
    );
    expect(() =>
      valuesPerDevice(devices, version, {
        variables: { site: 'ams', unit: 1 },
        deviceVariables: { 'ams-1': {}, '00000000-0000-4000-8000-00000000000a': {} },
      }),
    ).toThrow(
      refusal(
        'deviceVariables.00000000-0000-4000-8000-00000000000a',
        'device ams-1 is given values twice (by id and by name)',
      ),
    );
    expect(() => valuesPerDevice(devices, version, { deviceVariables: { ['x'.repeat(100)]: {} } })).toThrow(
      refusal('deviceVariables', 'a key names no selected device'),
    );
    expect(() => valuesPerDevice(devices, version, { deviceVariables: ['ams-1'] })).toThrow(
      refusal('deviceVariables', 'must be an object of names and values'),
    );
  });
});

describe('the selector of a rollout', () => {
  it('takes a site, a tag (as tags are kept) or both, and refuses neither', () => {
    expect(validateSelector({ site: ' AMS ', tag: ' Edge ' })).toEqual({ site: 'AMS', tag: 'edge' });
    expect(validateSelector({ tag: 'edge' })).toEqual({ site: null, tag: 'edge' });
    expect(() => validateSelector({})).toThrow(
      refusal('site', 'choose the devices by a site, a tag or both'),
    );
    expect(() => validateSelector({ site: '' })).toThrow(
      refusal('site', 'site must be 1 to 64 printable characters'),
    );
  });
});
