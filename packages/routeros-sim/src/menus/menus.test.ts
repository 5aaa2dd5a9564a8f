import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatedRouter, type Simulator } from '../index.js';
import { eventually, RawClient } from '../testing/raw-client.js';
import { MENUS } from './table.js';

let sim: Simulator;
let router: SimulatedRouter;
let client: RawClient;

const ret = (replies: string[][]): string => {
  const [done] = replies;
  expect(done?.[0]).toBe('!done');
  return done![1]!.slice('=ret='.length);
};
const rowsOf = (replies: string[][]): Record<string, string>[] =>
  replies
    .filter((reply) => reply[0] === '!re')
    .map((reply) =>
      Object.fromEntries(
        reply.slice(1).map((word) => {
          const at = word.indexOf('=', 1);
          return [word.slice(1, at), word.slice(at + 1)];
        }),
      ),
    );
const trap = (message: string, category?: number): string[][] => [
  ['!trap', ...(category === undefined ? [] : [`=category=${category}`]), `=message=${message}`],
  ['!done'],
];

beforeAll(async () => {
  sim = await startSimulator({
    routers: [{ name: 'core', version: '7.18', interfaces: 8 }, { version: '6.49' }],
  });
  router = sim.routers[0]!;
  client = await RawClient.connect(router.port);
  await client.login();
});
afterAll(async () => {
  client.close();
  await sim.close();
});

describe('every menu of the table', () => {
  it('prints (commands-only menus have no print)', async () => {
    for (const menu of MENUS) {
      const replies = await client.command(`${menu.path}/print`);
      if (menu.commandsOnly) expect(replies).toEqual(trap('no such command'));
      else expect(replies.at(-1)).toEqual(['!done']);
      if (menu.singleValue) expect(rowsOf(replies)).toHaveLength(1);
    }
  });
});

describe('items and their ids', () => {
  it('allocates *HEX ids that only grow, never reused after removal', async () => {
    const first = ret(await client.command('/ip/pool/add', '=name=p-a', '=ranges=10.9.0.10-10.9.0.20'));
    const second = ret(await client.command('/ip/pool/add', '=name=p-b', '=ranges=10.9.1.10-10.9.1.20'));
    expect([first, second]).toEqual(['*1', '*2']);
    expect(await client.command('/ip/pool/remove', `=numbers=${second}`)).toEqual([['!done']]);
    const third = ret(await client.command('/ip/pool/add', '=name=p-b', '=ranges=10.9.1.10-10.9.1.20'));
    expect(third).toBe('*3');
    for (let i = 0; i < 12; i++) await client.command('/system/script/add', `=name=s${i}`);
    expect(router.rows('/system/script').map((row) => row['.id'])).toContain('*C');
  });

  it('refuses duplicate keys with the real failure texts', async () => {
    expect(await client.command('/ip/address/add', '=address=192.168.88.1/24', '=interface=ether2')).toEqual(
      trap('failure: already have such address'),
    );
    expect(await client.command('/ip/pool/add', '=name=p-a', '=ranges=10.8.0.1-10.8.0.9')).toEqual(
      trap('failure: already have such name'),
    );
    expect(await client.command('/interface/bridge/add', '=name=ether1')).toEqual(
      trap('failure: already have interface with such name'),
    );
    ret(await client.command('/interface/bridge/add', '=name=lan'));
    expect(await client.command('/interface/bridge/add', '=name=lan')).toEqual(
      trap('failure: already have interface with such name'),
    );
    expect(await client.command('/interface/set', '=numbers=ether3', '=name=lan')).toEqual(
      trap('failure: already have interface with such name'),
    );
    ret(await client.command('/interface/bridge/port/add', '=bridge=lan', '=interface=ether7'));
    expect(await client.command('/interface/bridge/port/add', '=bridge=lan', '=interface=ether7')).toEqual(
      trap('failure: device already added as bridge port'),
    );
    // A refused change changes nothing.
    expect(router.rows('/interface').find((row) => row.name === 'lan')).toBeUndefined();
  });

  it('names items itself when add gives no name', async () => {
    expect(ret(await client.command('/interface/bridge/add'))).toMatch(/^\*\d+$/);
    expect(router.rows('/interface/bridge').map((row) => row.name)).toEqual(['lan', 'bridge1']);
    ret(await client.command('/system/scheduler/add', '=interval=1d', '=on-event=/system/reboot'));
    expect(router.rows('/system/scheduler')[0]).toMatchObject({
      name: 'schedule1',
      interval: '1d',
      disabled: 'false',
    });
  });

  it('checks required values and references to other menus', async () => {
    expect(await client.command('/ip/address/add', '=interface=ether1')).toEqual(
      trap('missing value(s) of argument(s) address'),
    );
    expect(await client.command('/interface/bridge/port/add', '=bridge=nope', '=interface=ether8')).toEqual(
      trap('input does not match any value of bridge', 1),
    );
    expect(await client.command('/ip/address/set', '=comment=x')).toEqual(
      trap('missing value(s) of argument(s) numbers'),
    );
  });

  it('addresses items by .id, by a numbers list, or by name', async () => {
    expect(await client.command('/interface/set', '=.id=ether4', '=comment=by-name')).toEqual([['!done']]);
    expect(await client.command('/interface/set', '=numbers=*5,ether6', '=mtu=9000')).toEqual([['!done']]);
    const rows = router.rows('/interface');
    expect(rows.find((row) => row.name === 'ether4')).toMatchObject({ '.id': '*4', comment: 'by-name' });
    expect(rows.filter((row) => row.mtu === '9000').map((row) => row.name)).toEqual(['ether5', 'ether6']);
    expect(await client.command('/interface/set', '=numbers=ether5,ether99', '=mtu=1500')).toEqual(
      trap('no such item (4)'),
    );
    expect(router.rows('/interface').find((row) => row.name === 'ether5')?.mtu).toBe('9000');
    await client.command('/interface/unset', '=numbers=ether4', '=value-name=comment');
    await client.command('/interface/set', '=numbers=ether5,ether6', '=mtu=1500');
  });

  it('enables, disables and unsets; booleans in as yes/no/true/false, out as true/false', async () => {
    const id = ret(
      await client.command('/ip/address/add', '=address=10.20.0.1/24', '=interface=ether2', '=comment=x'),
    );
    await client.command('/ip/address/disable', `=numbers=${id}`);
    expect(rowsOf(await client.command('/ip/address/print', `?.id=${id}`))[0]).toMatchObject({
      disabled: 'true',
    });
    await client.command('/ip/address/enable', `=.id=${id}`);
    expect(router.rows('/ip/address').find((row) => row['.id'] === id)?.disabled).toBe('false');
    for (const [given, stored] of [
      ['yes', 'true'],
      ['no', 'false'],
      ['true', 'true'],
      ['false', 'false'],
    ]) {
      await client.command('/ip/address/set', `=numbers=${id}`, `=disabled=${given}`);
      expect(router.rows('/ip/address').find((row) => row['.id'] === id)?.disabled).toBe(stored);
    }
    expect(await client.command('/ip/address/set', `=numbers=${id}`, '=disabled=maybe')).toEqual(
      trap('input does not match any value of disabled', 1),
    );
    await client.command('/ip/address/unset', `=numbers=${id}`, '=value-name=comment');
    expect(router.rows('/ip/address').find((row) => row['.id'] === id)).not.toHaveProperty('comment');
    await client.command('/ip/address/remove', `=numbers=${id}`);
  });
});

describe('single-value menus', () => {
  it('print one row without .id and set without an id', async () => {
    expect(await client.command('/system/identity/set', '=name=edge-7')).toEqual([['!done']]);
    expect(await client.command('/system/identity/print')).toEqual([['!re', '=name=edge-7'], ['!done']]);
    await client.command('/ip/dns/set', '=servers=1.1.1.1,8.8.8.8', '=allow-remote-requests=yes');
    expect(router.rows('/ip/dns')[0]).toMatchObject({
      servers: '1.1.1.1,8.8.8.8',
      'allow-remote-requests': 'true',
    });
    expect(router.rows('/ip/dns')[0]).not.toHaveProperty('.id');
    await client.command('/snmp/set', '=enabled=yes', '=contact=noc@example.net');
    expect(router.rows('/snmp')[0]).toMatchObject({ enabled: 'true', contact: 'noc@example.net' });
    expect(await client.command('/system/resource/set', '=cpu=x')).toEqual(trap('no such command'));
    expect(await client.command('/system/identity/add', '=name=x')).toEqual(trap('no such command'));
  });

  it('differ by version where RouterOS does (/system/ntp/client)', async () => {
    const older = await RawClient.connect(sim.routers[1]!.port);
    await older.login();
    expect(rowsOf(await older.command('/system/ntp/client/print'))[0]).toHaveProperty(
      'primary-ntp',
      '0.0.0.0',
    );
    expect(await older.command('/system/ntp/client/set', '=servers=pool.ntp.org')).toEqual(
      trap('unknown parameter'),
    );
    older.close();
    await client.command('/system/ntp/client/set', '=enabled=yes', '=servers=time.cloudflare.com');
    expect(router.rows('/system/ntp/client')[0]).toMatchObject({
      enabled: 'true',
      servers: 'time.cloudflare.com',
    });
  });
});

describe('built-in and dynamic items', () => {
  it('gives each address a dynamic connected route that cannot be removed and follows the address', async () => {
    const routes = (): Record<string, string>[] =>
      router.rows('/ip/route').filter((row) => row.connect === 'true');
    expect(routes().map((row) => row['dst-address'])).toEqual(['192.168.88.0/24']);
    const id = ret(await client.command('/ip/address/add', '=address=10.30.0.7/16', '=interface=ether3'));
    const route = routes().find((row) => row['dst-address'] === '10.30.0.0/16')!;
    expect(route).toMatchObject({
      gateway: 'ether3',
      'pref-src': '10.30.0.7',
      dynamic: 'true',
      static: 'false',
    });
    expect(await client.command('/ip/route/remove', `=numbers=${route['.id']}`)).toEqual(
      trap('failure: can not remove dynamic route'),
    );
    await client.command('/ip/address/disable', `=numbers=${id}`);
    expect(routes().map((row) => row['dst-address'])).toEqual(['192.168.88.0/24']);
    await client.command('/ip/address/enable', `=numbers=${id}`);
    expect(routes().map((row) => row['dst-address'])).toEqual(['192.168.88.0/24', '10.30.0.0/16']);
    await client.command('/ip/address/remove', `=numbers=${id}`);
    expect(routes().map((row) => row['dst-address'])).toEqual(['192.168.88.0/24']);
    // Static routes are the user's to add and remove.
    const staticRoute = ret(
      await client.command('/ip/route/add', '=dst-address=0.0.0.0/0', '=gateway=192.168.88.254'),
    );
    expect(router.rows('/ip/route').find((row) => row['.id'] === staticRoute)).toMatchObject({
      dynamic: 'false',
      static: 'true',
      distance: '1',
    });
    expect(await client.command('/ip/route/remove', `=numbers=${staticRoute}`)).toEqual([['!done']]);
  });

  it('keeps the built-in ethers, user groups and services', async () => {
    expect(router.rows('/interface').map((row) => row.name)).toEqual(
      Array.from({ length: 8 }, (_, i) => `ether${i + 1}`),
    );
    expect(await client.command('/interface/remove', '=numbers=ether1')).toEqual(
      trap('failure: can not remove ethernet interface'),
    );
    expect(router.rows('/user/group').map((row) => row.name)).toEqual(['read', 'write', 'full']);
    expect(await client.command('/user/group/remove', '=numbers=full')).toEqual(
      trap('failure: can not remove builtin group'),
    );
    const services = router.rows('/ip/service');
    expect(services.map((row) => [row.name, row.port, row.disabled])).toEqual([
      ['telnet', '23', 'false'],
      ['ftp', '21', 'false'],
      ['www', '80', 'false'],
      ['ssh', '22', 'false'],
      ['www-ssl', '443', 'true'],
      ['api', '8728', 'false'],
      ['winbox', '8291', 'false'],
      ['api-ssl', '8729', 'false'],
    ]);
    expect(await client.command('/ip/service/disable', '=numbers=telnet')).toEqual([['!done']]);
    expect(await client.command('/ip/service/set', '=numbers=ssh', '=port=2222')).toEqual([['!done']]);
    expect(await client.command('/ip/service/remove', '=numbers=ssh')).toEqual(trap('no such command'));
    expect(router.rows('/ip/service').find((row) => row.name === 'ssh')?.port).toBe('2222');
    // A user group of one's own can go again.
    ret(await client.command('/user/group/add', '=name=noc', '=policy=read,api'));
    expect(await client.command('/user/group/remove', '=numbers=noc')).toEqual([['!done']]);
  });

  it('lists users without their passwords', async () => {
    const users = rowsOf(await client.command('/user/print'));
    expect(users).toEqual([{ '.id': '*1', name: 'admin', group: 'full', address: '', disabled: 'false' }]);
  });
});

describe('ordered menus', () => {
  it('keeps firewall rules in order: add, place-before, move to a destination or to the end', async () => {
    const a = ret(await client.command('/ip/firewall/filter/add', '=chain=input', '=comment=a'));
    const b = ret(
      await client.command('/ip/firewall/filter/add', '=chain=input', '=comment=b', '=action=drop'),
    );
    const c = ret(await client.command('/ip/firewall/filter/add', '=chain=forward', '=comment=c'));
    const order = (): string[] => router.rows('/ip/firewall/filter').map((row) => row.comment!);
    expect(order()).toEqual(['a', 'b', 'c']);
    expect(await client.command('/ip/firewall/filter/move', `=numbers=${c}`, `=destination=${a}`)).toEqual([
      ['!done'],
    ]);
    expect(order()).toEqual(['c', 'a', 'b']);
    await client.command('/ip/firewall/filter/move', `=numbers=${c}`);
    expect(order()).toEqual(['a', 'b', 'c']);
    await client.command('/ip/firewall/filter/move', `=numbers=${b},${c}`, `=destination=${a}`);
    expect(order()).toEqual(['b', 'c', 'a']);
    ret(await client.command('/ip/firewall/filter/add', '=chain=input', '=comment=d', `=place-before=${c}`));
    expect(order()).toEqual(['b', 'd', 'c', 'a']);
    expect(await client.command('/ip/firewall/filter/move', `=numbers=${a}`, '=destination=*77')).toEqual(
      trap('no such item (4)'),
    );
    expect(await client.command('/ip/firewall/filter/add', '=action=accept')).toEqual(
      trap('missing value(s) of argument(s) chain'),
    );
    expect(router.rows('/ip/firewall/filter')[0]).toMatchObject({
      chain: 'input',
      action: 'drop',
      log: 'false',
    });
    expect(await client.command('/ip/address/move', '=numbers=*1')).toEqual(trap('no such command'));
    ret(
      await client.command(
        '/ip/firewall/nat/add',
        '=chain=srcnat',
        '=action=masquerade',
        '=out-interface=ether1',
      ),
    );
    expect(router.rows('/ip/firewall/nat')).toEqual([
      expect.objectContaining({ chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1' }),
    ]);
  });
});

describe('values that move by themselves', () => {
  it('reports uptime in RouterOS form, and cpu-load and free-memory that change', async () => {
    const resource = async (): Promise<Record<string, string>> =>
      rowsOf(await client.command('/system/resource/print'))[0]!;
    const first = await resource();
    expect(first.uptime).toMatch(/^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/);
    expect(first.version).toBe('7.18.2 (stable)');
    expect(Number(first['cpu-load'])).toBeGreaterThanOrEqual(0);
    await eventually(async () => {
      const later = await resource();
      expect(later['cpu-load']).not.toBe(first['cpu-load']);
      expect(later['free-memory']).not.toBe(first['free-memory']);
      expect(later.uptime).not.toBe(first.uptime);
    });
  });

  it('counts interface bytes up', async () => {
    const counters = (): [number, number] => {
      const ether1 = router.rows('/interface').find((row) => row.name === 'ether1')!;
      return [Number(ether1['rx-byte']), Number(ether1['tx-byte'])];
    };
    const [rx, tx] = counters();
    await eventually(() => {
      const [laterRx, laterTx] = counters();
      expect(laterRx).toBeGreaterThan(rx);
      expect(laterTx).toBeGreaterThan(tx);
    });
  });

  it('monitors traffic once, or until /cancel', async () => {
    const once = await client.command(
      '/interface/monitor-traffic',
      '=interface=ether1,ether2',
      '=once=',
      '.tag=m',
    );
    expect(once.map((reply) => reply.slice(0, 3))).toEqual([
      ['!re', '.tag=m', '=name=ether1'],
      ['!re', '.tag=m', '=name=ether2'],
      ['!done', '.tag=m'],
    ]);
    expect(rowsOf(once)[0]!['rx-bits-per-second']).toMatch(/^\d+$/);
    expect(rowsOf(once)[0]!['tx-bits-per-second']).toMatch(/^\d+$/);

    client.send(
      '/interface/monitor-traffic',
      '=interface=ether1',
      '=.proplist=name,rx-bits-per-second',
      '.tag=s',
    );
    expect(await client.next()).toEqual([
      '!re',
      '.tag=s',
      '=name=ether1',
      expect.stringMatching(/^=rx-bits-per-second=\d+$/),
    ]);
    expect((await client.next()).slice(0, 3)).toEqual(['!re', '.tag=s', '=name=ether1']);
    client.send('/cancel', '=tag=s', '.tag=c');
    const rest = (await client.untilDone('s')).filter((reply) => reply[0] !== '!re');
    expect(rest).toEqual([
      ['!trap', '.tag=s', '=category=2', '=message=interrupted'],
      ['!done', '.tag=c'],
      ['!done', '.tag=s'],
    ]);
    expect(await client.command('/interface/monitor-traffic', '=interface=wlan9', '=once=')).toEqual(
      trap('input does not match any value of interface', 1),
    );
  });
});

describe('system commands', () => {
  it('checks for, downloads and installs an update, which reboots into the new version', async () => {
    const before = rowsOf(await client.command('/system/resource/print'))[0]!;
    const checked = await client.command('/system/package/update/check-for-updates');
    expect(rowsOf(checked).at(-1)).toEqual({
      channel: 'stable',
      'installed-version': '7.18.2',
      'latest-version': '7.18.3',
      status: 'New version is available',
    });
    expect(rowsOf(await client.command('/system/package/update/download'))[0]!.status).toBe(
      'Downloaded, please reboot router to upgrade it',
    );
    expect(await client.command('/system/package/update/install')).toEqual([['!done']]);
    await client.waitClosed();

    client = await RawClient.connect(router.port);
    await client.login();
    const after = rowsOf(await client.command('/system/resource/print'))[0]!;
    expect(after.version).toBe('7.18.3 (stable)');
    expect(after.uptime!.length).toBeLessThan(before.uptime!.length);
    expect(rowsOf(await client.command('/system/package/update/check-for-updates')).at(-1)!.status).toBe(
      'System is already up to date',
    );
    // The configuration survived the reboot.
    expect(router.rows('/system/identity')[0]!.name).toBe('edge-7');
  });

  it('reboots on /system/reboot', async () => {
    expect(await client.command('/system/reboot')).toEqual([['!done']]);
    await client.waitClosed();
    client = await RawClient.connect(router.port);
    await client.login();
    expect(rowsOf(await client.command('/system/resource/print'))[0]!.uptime).toMatch(/^\d+s$/);
  });

  it('shows the board, the clock and the routerboard of the router', () => {
    expect(router.rows('/system/routerboard')[0]).toMatchObject({
      routerboard: 'true',
      'board-name': 'RB5009UG+S+',
      'serial-number': expect.stringMatching(/^[0-9A-F]{12}$/),
    });
    expect(router.rows('/system/clock')[0]).toMatchObject({
      time: expect.stringMatching(/^\d{2}:\d{2}:\d{2}$/),
      date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    });
    expect(sim.routers[1]!.rows('/system/clock')[0]!.date).toMatch(/^[a-z]{3}\/\d{2}\/\d{4}$/);
    expect(() => router.rows('/nowhere')).toThrow('no menu /nowhere');
  });
});
