import { describe, expect, it } from 'vitest';
import { NETWORK_LIST, RouterNetworks } from './router-networks.js';

describe('the networks routers may be reached in', () => {
  const networks = new RouterNetworks('10.0.0.0/8, 192.168.1.0/24, fc00::/7');

  it('allows addresses inside them', async () => {
    expect(await networks.addressOf('10.20.30.40')).toBe('10.20.30.40');
    expect(await networks.addressOf('192.168.1.254')).toBe('192.168.1.254');
    expect(await networks.addressOf('fd12:3456::1')).toBe('fd12:3456::1');
  });

  it.each(['127.0.0.1', '169.254.169.254', '192.168.2.1', '8.8.8.8', '::1', '::ffff:127.0.0.1', '0.0.0.0'])(
    'refuses %s, naming the host field',
    async (address) => {
      await expect(networks.addressOf(address)).rejects.toMatchObject({
        message: 'host is not in a network this service may reach routers in',
        extensions: { code: 'BAD_USER_INPUT', field: 'host' },
      });
    },
  );

  it('resolves a name once and answers the address to connect to', async () => {
    const loopback = new RouterNetworks('127.0.0.0/8');
    expect(await loopback.addressOf('localhost')).toBe('127.0.0.1');
    await expect(networks.addressOf('localhost')).rejects.toMatchObject({ extensions: { field: 'host' } });
  });

  it('reads only lists of networks', () => {
    expect(NETWORK_LIST.test('10.0.0.0/8,fc00::/7')).toBe(true);
    expect(NETWORK_LIST.test('10.0.0.0')).toBe(false);
    expect(() => new RouterNetworks('10.0.0.0/33')).toThrow(/not a network/);
  });
});
