import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../index.js';
import { RawClient } from '../testing/raw-client.js';

let sim: Simulator;

async function loggedIn(name = 'v718'): Promise<RawClient> {
  const client = await RawClient.connect(sim.routers.find((router) => router.name === name)!.port);
  await client.login();
  return client;
}

beforeAll(async () => {
  sim = await startSimulator({
    routers: [
      { name: 'v718', version: '7.18' },
      { name: 'v649', version: '6.49' },
    ],
  });
});
afterAll(() => sim.close());

describe('tags and concurrent commands', () => {
  it('puts the tag second in every reply, and none on replies to untagged commands', async () => {
    const client = await loggedIn();
    const replies = await client.command('/interface/print', '=.proplist=name', '.tag=t1');
    expect(replies).toHaveLength(6);
    for (const reply of replies) expect(reply[1]).toBe('.tag=t1');
    expect(await client.command('/system/identity/print')).toEqual([['!re', '=name=v718'], ['!done']]);
    client.close();
  });

  it('runs commands side by side on one connection, each reply carrying its own tag', async () => {
    const client = await loggedIn();
    client.send('/ip/address/listen', '.tag=L');
    client.send('/interface/monitor-traffic', '=interface=ether1', '.tag=M');
    expect((await client.next()).slice(0, 3)).toEqual(['!re', '.tag=M', '=name=ether1']);
    const printed = await client.command('/ip/address/print', '=.proplist=address', '.tag=P');
    const mine = printed.filter((reply) => reply[1] === '.tag=P');
    expect(mine).toEqual([
      ['!re', '.tag=P', '=address=192.168.88.1/24'],
      ['!done', '.tag=P'],
    ]);
    expect(printed.every((reply) => reply[1] === '.tag=P' || reply[1] === '.tag=M')).toBe(true);

    // One cancel without =tag= stops both: traps first, then the cancel's !done, then theirs.
    client.send('/cancel', '.tag=C');
    const rest: string[][] = [];
    while (!(rest.at(-1)?.[0] === '!done' && rest.filter((reply) => reply[0] === '!done').length === 3)) {
      rest.push(await client.next());
    }
    const ending = rest.filter((reply) => reply[0] !== '!re');
    expect(ending).toEqual([
      ['!trap', '.tag=L', '=category=2', '=message=interrupted'],
      ['!trap', '.tag=M', '=category=2', '=message=interrupted'],
      ['!done', '.tag=C'],
      ['!done', '.tag=L'],
      ['!done', '.tag=M'],
    ]);
    // Nothing is running any more: a keepalive is answered and nothing else arrives.
    expect(await client.command('#', '.tag=k')).toEqual([['!done', '.tag=k']]);
    await client.expectSilence(1200);
    client.close();
  });

  it('answers /cancel naming no running command with a trap', async () => {
    const client = await loggedIn();
    expect(await client.command('/cancel', '=tag=nothing', '.tag=c')).toEqual([
      ['!trap', '.tag=c', '=message=no such command or it is already finished'],
      ['!done', '.tag=c'],
    ]);
    client.close();
  });

  it('answers the keepalive word with an empty !done', async () => {
    const client = await loggedIn();
    expect(await client.command('#')).toEqual([['!done']]);
    client.close();
  });

  it('ends the session on /quit with !fatal, then closes', async () => {
    const client = await loggedIn();
    client.send('/quit', '.tag=q');
    expect(await client.next()).toEqual(['!fatal', 'session terminated on request']);
    await client.waitClosed();
  });
});

describe('listen', () => {
  it('sends a !re per change and .dead for removals (yes on 7.x, true on 6.x)', async () => {
    for (const [name, dead] of [
      ['v718', 'yes'],
      ['v649', 'true'],
    ] as const) {
      const watcher = await loggedIn(name);
      const actor = await loggedIn(name);
      watcher.send('/ip/address/listen', '=.proplist=.id,address,comment', '.tag=w');
      const [[, ret]] = (await actor.command(
        '/ip/address/add',
        '=address=172.16.0.1/24',
        '=interface=ether4',
      )) as [[string, string]];
      const id = ret.slice('=ret='.length);
      expect(await watcher.next()).toEqual(['!re', '.tag=w', `=.id=${id}`, '=address=172.16.0.1/24']);
      await actor.command('/ip/address/set', `=.id=${id}`, '=comment=lab');
      expect(await watcher.next()).toEqual([
        '!re',
        '.tag=w',
        `=.id=${id}`,
        '=address=172.16.0.1/24',
        '=comment=lab',
      ]);
      await actor.command('/ip/address/remove', `=.id=${id}`);
      expect(await watcher.next()).toEqual(['!re', '.tag=w', `=.id=${id}`, `=.dead=${dead}`]);
      watcher.close();
      actor.close();
    }
  });

  it('follows a print with =follow= and only changes with =follow-only=', async () => {
    const follower = await loggedIn();
    const actor = await loggedIn();
    follower.send('/system/identity/print', '=follow=', '.tag=f');
    expect(await follower.next()).toEqual(['!re', '.tag=f', '=name=v718']);
    follower.send('/ip/dns/print', '=follow-only=', '=.proplist=servers', '.tag=g');
    await actor.command('/ip/dns/set', '=servers=9.9.9.9');
    expect(await follower.next()).toEqual(['!re', '.tag=g', '=servers=9.9.9.9']);
    await actor.command('/system/identity/set', '=name=renamed');
    expect(await follower.next()).toEqual(['!re', '.tag=f', '=name=renamed']);
    await actor.command('/system/identity/set', '=name=v718');
    follower.close();
    actor.close();
  });
});

describe('print', () => {
  it('treats getall as print', async () => {
    const client = await loggedIn();
    expect(await client.command('/ip/address/getall', '=.proplist=address')).toEqual(
      await client.command('/ip/address/print', '=.proplist=address'),
    );
    client.close();
  });

  it('answers =count-only= with !done =ret=N', async () => {
    const client = await loggedIn();
    expect(await client.command('/interface/print', '=count-only=')).toEqual([['!done', '=ret=5']]);
    expect(await client.command('/interface/print', '=count-only=', '?name=ether2')).toEqual([
      ['!done', '=ret=1'],
    ]);
    expect(await client.command('/interface/print', '=count-only=', '?name=none')).toEqual([
      ['!done', '=ret=0'],
    ]);
    client.close();
  });

  it('gives only the properties of =.proplist=, leaving out those an item lacks', async () => {
    const client = await loggedIn();
    expect(
      await client.command('/ip/address/print', '=.proplist=.id,comment,nonexistent,interface', '?.id=*1'),
    ).toEqual([['!re', '=.id=*1', '=interface=ether1', '=comment=defconf'], ['!done']]);
    client.close();
  });

  it('repeats with =interval= until cancelled', async () => {
    const client = await loggedIn();
    client.send('/system/identity/print', '=interval=100ms', '.tag=i');
    expect(await client.next()).toEqual(['!re', '.tag=i', '=name=v718']);
    expect(await client.next()).toEqual(['!re', '.tag=i', '=name=v718']);
    client.send('/cancel', '=tag=i', '.tag=x');
    const rest = await client.untilDone('i');
    expect(rest.filter((reply) => reply[0] !== '!re')).toEqual([
      ['!trap', '.tag=i', '=category=2', '=message=interrupted'],
      ['!done', '.tag=x'],
      ['!done', '.tag=i'],
    ]);
    client.close();
  });

  it('runs the query stack machine', async () => {
    const client = await loggedIn();
    const names = async (...queries: string[]): Promise<string[]> =>
      (await client.command('/interface/print', '=.proplist=name', ...queries))
        .filter((reply) => reply[0] === '!re')
        .map((reply) => reply[1]!.slice('=name='.length));
    await client.command('/interface/set', '=numbers=ether2', '=comment=uplink');
    await client.command('/interface/disable', '=numbers=ether5');
    try {
      expect(await names('?type=ether', '?type=vlan', '?#|')).toEqual([
        'ether1',
        'ether2',
        'ether3',
        'ether4',
        'ether5',
      ]);
      expect(await names('?type=ether', '?type=vlan', '?#|!')).toEqual([]);
      expect(await names('?name=ether1', '?name=ether3', '?#|')).toEqual(['ether1', 'ether3']);
      expect(await names('?=name=ether4')).toEqual(['ether4']);
      expect(await names('?comment')).toEqual(['ether2']);
      expect(await names('?-comment', '?<name=ether3')).toEqual(['ether1']);
      expect(await names('?>comment=')).toEqual(['ether2']);
      expect(await names('?>name=ether3')).toEqual(['ether4', 'ether5']);
      expect(await names('?disabled=yes')).toEqual(['ether5']);
      expect(await names('?disabled=true')).toEqual(['ether5']);
      expect(await names('?disabled=no', '?#!')).toEqual(['ether5']);
      // ?#0 alone replaces the stack with its top: only the last query counts.
      expect(await names('?name=ether1', '?name=ether2', '?#0')).toEqual(['ether2']);
      // 1 pushes a copy of the value below the top; & then joins it with the top.
      expect(await names('?disabled=no', '?name=ether1', '?#1&')).toEqual(['ether1']);
      expect(await names('?.id=*3')).toEqual(['ether3']);
      expect(await names('?>.id=*3')).toEqual(['ether4', 'ether5']);
    } finally {
      await client.command('/interface/unset', '=numbers=ether2', '=value-name=comment');
      await client.command('/interface/enable', '=numbers=ether5');
    }
    client.close();
  });

  it('sends !empty before !done on 7.18 when nothing matches, and not on 6.49', async () => {
    const current = await loggedIn('v718');
    expect(await current.command('/ip/firewall/filter/print')).toEqual([['!empty'], ['!done']]);
    current.close();
    const older = await loggedIn('v649');
    expect(await older.command('/ip/firewall/filter/print')).toEqual([['!done']]);
    older.close();
  });
});

describe('errors', () => {
  it('uses the reference texts', async () => {
    const client = await loggedIn();
    expect(await client.command('/ip/addresses/print')).toEqual([
      ['!trap', '=message=no such command prefix'],
      ['!done'],
    ]);
    expect(await client.command('/interface/l2tp/client/print')).toEqual([
      ['!trap', '=message=no such command prefix'],
      ['!done'],
    ]);
    expect(await client.command('/ip/address/frobnicate')).toEqual([
      ['!trap', '=message=no such command'],
      ['!done'],
    ]);
    expect(await client.command('/ip/print')).toEqual([['!trap', '=message=no such command'], ['!done']]);
    expect(await client.command('/ip/service/add', '=name=x')).toEqual([
      ['!trap', '=message=no such command'],
      ['!done'],
    ]);
    expect(await client.command('/ip/address/print', '=bogus=1')).toEqual([
      ['!trap', '=message=unknown parameter'],
      ['!done'],
    ]);
    expect(
      await client.command('/ip/address/add', '=address=10.1.1.1/24', '=interface=ether1', '=colour=red'),
    ).toEqual([['!trap', '=message=unknown parameter'], ['!done']]);
    expect(await client.command('/ip/address/set', '=.id=*99', '=comment=x', '.tag=e')).toEqual([
      ['!trap', '.tag=e', '=message=no such item (4)'],
      ['!done', '.tag=e'],
    ]);
    expect(await client.command('/ip/address/add', '=address=10.1.1.1/24', '=interface=ether99')).toEqual([
      ['!trap', '=category=1', '=message=input does not match any value of interface'],
      ['!done'],
    ]);
    client.close();
  });
});
