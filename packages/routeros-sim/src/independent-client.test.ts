import MikroNode from 'mikronode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatedRouter, type Simulator } from './index.js';

/*
 * mikronode, a RouterOS API client written independently of node-routeros (its own parser and
 * its own login), gets the same answers from the simulator as the golden tests expect. It only
 * knows the pre-6.43 challenge login, so it talks to the 6.42 and 6.49 profiles.
 */

interface Failure {
  data: { field: string; value: string }[];
}

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    routers: [
      { name: 'old', version: '6.42' },
      { name: 'lts', version: '6.49' },
    ],
  });
});
afterAll(() => sim.close());

async function session(router: SimulatedRouter, tls = false) {
  const device = new MikroNode('127.0.0.1', tls ? router.tlsPort : router.port, 5);
  if (tls) {
    device.TLS({
      checkServerIdentity: (_host: string, certificate: { fingerprint256: string }) =>
        certificate.fingerprint256 === router.fingerprint256 ? undefined : new Error('fingerprint mismatch'),
    });
  }
  const [login] = await device.connect();
  return login('admin', 'admin');
}

describe('mikronode against the simulator', () => {
  for (const [name, tls] of [
    ['old', false],
    ['lts', false],
    ['lts', true],
  ] as const) {
    it(`logs in, adds, prints with a query and gets a trap (${name}${tls ? ', TLS' : ''})`, async () => {
      const router = sim.routers.find((candidate) => candidate.name === name)!;
      const connection = await session(router, tls);
      const channel = connection.openChannel(`c-${tls ? 'tls' : 'plain'}`);

      const identity = await channel.write('/system/identity/print');
      expect(MikroNode.resultsToObj(identity.data as { field: string; value: string }[][])).toEqual([
        { name },
      ]);

      const address = tls ? '10.0.3.1/24' : '10.0.2.1/24';
      const added = await channel.write('/ip/address/add', { address, interface: 'ether2' });
      const id = added.data[0] as string;
      expect(id).toMatch(/^\*[0-9A-F]+$/);

      const printed = await channel.write('/ip/address/print', {
        '?interface': 'ether2',
        [`?address`]: address,
      });
      expect(MikroNode.resultsToObj(printed.data as { field: string; value: string }[][])).toEqual([
        {
          '.id': id,
          address,
          network: address.replace('.1/24', '.0'),
          interface: 'ether2',
          'actual-interface': 'ether2',
          invalid: 'false',
          dynamic: 'false',
          disabled: 'false',
        },
      ]);

      const failure = (await channel.write('/ip/address/add', { address, interface: 'ether2' }).then(
        () => undefined,
        (error: unknown) => error,
      )) as Failure | undefined;
      expect(failure?.data).toEqual([{ field: 'message', value: 'failure: already have such address' }]);

      const unknown = (await channel.write('/ip/frobnicate/print').then(
        () => undefined,
        (error: unknown) => error,
      )) as Failure | undefined;
      expect(unknown?.data).toEqual([{ field: 'message', value: 'no such command prefix' }]);

      channel.close();
      connection.close();
    });
  }
});
