import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouterClient } from '@fleet/router-api';
import { startSimulator, type Simulator } from '@fleet/routeros-sim';
import { renderSpec, validateSpec } from '../templates/template-spec.js';
import { resolveValues, validateDeclarations } from '../templates/template-variables.js';
import { executeChange } from './execute-changes.js';
import { planChanges } from './plan.js';
import { readLiveState } from './provisioning.js';

const declared = validateDeclarations([{ name: 'site', type: 'string' }]);
const SPEC = {
  identity: { name: '${site}-gw' },
  dns: { servers: ['9.9.9.9', '1.1.1.1'], allowRemoteRequests: false },
  services: [
    { name: 'telnet', disabled: true },
    { name: 'ftp', disabled: true },
    { name: 'www', disabled: true },
  ],
  addresses: [
    { address: '10.10.0.1/24', interface: 'ether2', comment: 'LAN' },
    { address: '10.20.0.1/24', interface: 'ether3' },
  ],
  pools: [{ name: 'lan', ranges: '10.10.0.100-10.10.0.200' }],
  firewallFilter: [
    { chain: 'input', action: 'accept', connectionState: 'established,related', comment: 'A' },
    { chain: 'input', action: 'accept', protocol: 'icmp', comment: 'B' },
    { chain: 'input', action: 'drop', inInterface: 'ether1', comment: 'C' },
  ],
};

/** Plans against a simulated router, carries the plan out, and plans again: nothing is left. */
describe('provisioning plans', () => {
  let routers: Simulator;
  let client: RouterClient;
  const desired = renderSpec(validateSpec(SPEC, declared), resolveValues(declared, { site: 'ams' }));
  const plan = async () => planChanges(desired, await readLiveState(client, desired));
  const filterRules = async () =>
    (await client.print('/ip/firewall/filter'))
      .filter((row) => row.dynamic !== 'true')
      .map((row) => row.comment ?? '');

  beforeAll(async () => {
    routers = await startSimulator({ routers: 1 });
    const router = routers.inventory()[0]!;
    client = new RouterClient({
      name: router.name,
      host: router.host,
      port: router.tlsPort,
      username: router.username,
      password: router.password,
      tls: { mode: 'pinned', fingerprint256: router.fingerprint256 },
    });
    // Rules of the operator's own, in the way: one the template has too (C), out of order, and one
    // it does not (X).
    await client.add('/ip/firewall/filter', {
      chain: 'input',
      action: 'drop',
      'in-interface': 'ether1',
      comment: 'C',
    });
    await client.add('/ip/firewall/filter', { chain: 'forward', action: 'drop', comment: 'X' });
    await client.add('/ip/firewall/filter', {
      chain: 'input',
      action: 'accept',
      'connection-state': 'established,related',
      comment: 'A',
    });
  });

  afterAll(async () => {
    await client?.close();
    await routers?.close();
  });

  it('reads the live state and plans only what differs, touching nothing', async () => {
    const before = await filterRules();
    const changes = await plan();
    expect(changes).toContainEqual({
      action: 'set',
      menu: '/system/identity',
      itemId: null,
      properties: { name: 'ams-gw' },
      before: { name: expect.any(String) },
    });
    expect(
      changes
        .filter((change) => change.menu === '/ip/address')
        .map((change) => change.action)
        .sort(),
    ).toEqual(['add', 'add', 'remove']);
    // The firewall keeps the longest run already in order (A), removes the rule the template
    // lacks (X), adds the missing one (B) and moves the one it has out of order (C).
    const firewall = changes.filter((change) => change.menu === '/ip/firewall/filter');
    expect(firewall.map((change) => change.action)).toEqual(['remove', 'add', 'move']);
    expect(firewall[0]).toMatchObject({ before: { comment: 'X' } });
    expect(firewall[1]).toMatchObject({ properties: { comment: 'B' } });
    expect(firewall[2]).toMatchObject({ before: { comment: 'C' }, placeBefore: null });
    expect(await filterRules()).toEqual(before);
  });

  it('carried out, leaves nothing to plan, with the template rule order and dynamic items intact', async () => {
    const routesBefore = (await client.print('/ip/route')).filter((row) => row.dynamic === 'true');
    for (const change of await plan()) await executeChange(client, change);
    expect(await plan()).toEqual([]);
    expect(await filterRules()).toEqual(['A', 'B', 'C']);
    const [identity] = await client.print('/system/identity');
    expect(identity?.name).toBe('ams-gw');
    const services = await client.print('/ip/service');
    expect(
      services.filter((row) => ['telnet', 'ftp', 'www'].includes(row.name!)).map((row) => row.disabled),
    ).toEqual(['true', 'true', 'true']);
    // Connected routes follow the addresses (dynamic): none of them was touched by the plan.
    expect(
      (await client.print('/ip/route')).filter((row) => row.dynamic === 'true').length,
    ).toBeGreaterThanOrEqual(routesBefore.length);
  });

  it('moves rules put out of order and sets a rule changed under its comment, keeping their ids', async () => {
    const rules = await client.print('/ip/firewall/filter');
    const idOf = (comment: string) => rules.find((row) => row.comment === comment)!['.id']!;
    // The operator moves C to the top and changes B's protocol.
    await client.move('/ip/firewall/filter', [idOf('C')], idOf('A'));
    await client.set('/ip/firewall/filter', [idOf('B')], { protocol: 'tcp' });
    const changes = (await plan()).filter((change) => change.menu === '/ip/firewall/filter');
    expect(changes.map((change) => change.action).sort()).toEqual(['move', 'set']);
    expect(changes).toContainEqual({
      action: 'set',
      menu: '/ip/firewall/filter',
      itemId: idOf('B'),
      properties: { protocol: 'icmp' },
      before: { protocol: 'tcp' },
    });
    for (const change of changes) await executeChange(client, change);
    expect(await plan()).toEqual([]);
    const after = await client.print('/ip/firewall/filter');
    expect(after.filter((row) => row.dynamic !== 'true').map((row) => [row.comment, row['.id']])).toEqual(
      ['A', 'B', 'C'].map((comment) => [comment, idOf(comment)]),
    );
  });
});
