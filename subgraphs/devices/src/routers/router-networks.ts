import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { BadUserInputError } from '@fleet/service-kit';

const CIDR = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}|[0-9a-fA-F:]+/\d{1,3})`;
/** A comma-separated list of CIDR networks. */
export const NETWORK_LIST = new RegExp(`^\\s*${CIDR}(\\s*,\\s*${CIDR})*\\s*$`);

/**
 * Where routers may be: the service connects to an address only when it lies in one of the
 * configured networks. A host name is resolved once and the address itself is connected to, so
 * a name cannot point somewhere else between the check and the connection.
 */
export class RouterNetworks {
  readonly #allowed = new BlockList();

  constructor(list: string) {
    for (const entry of list.split(',').map((part) => part.trim())) {
      const [address, bits] = entry.split('/') as [string, string];
      const family = isIP(address);
      const prefix = Number(bits);
      if (family === 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`not a network: ${entry}`);
      this.#allowed.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** The address to connect to for this host; BadUserInputError when it is outside the networks. */
  async addressOf(host: string): Promise<string> {
    const addresses = isIP(host) !== 0 ? [host] : await resolve(host);
    const address = addresses.find((candidate) => this.#allows(candidate));
    if (!address) {
      throw new BadUserInputError('host is not in a network this service may reach routers in', 'host');
    }
    return address;
  }

  #allows(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.#allowed.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

async function resolve(host: string): Promise<string[]> {
  try {
    return (await lookup(host, { all: true })).map((entry) => entry.address);
  } catch {
    throw new BadUserInputError('host does not resolve to an address', 'host');
  }
}
