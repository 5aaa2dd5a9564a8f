import { DEFAULT_VERSION, VERSIONS } from './protocol/versions.js';

export interface CliOptions {
  count: number;
  basePort: number;
  version: string;
  host: string;
  interfaces: number;
}

export const USAGE = `Usage: routeros-sim [--count N] [--base-port P] [--version ${VERSIONS.join('|')}] [--host H] [--interfaces N]

Starts N simulated RouterOS routers, prints their inventory as JSON, and runs until SIGINT or SIGTERM.
  --count N        routers to start (default 1)
  --base-port P    plain API ports P..P+N-1, API-SSL ports P+N..P+2N-1 (default 0: ephemeral ports)
  --version V      RouterOS version of every router (default ${DEFAULT_VERSION})
  --host H         address to listen on (default 127.0.0.1)
  --interfaces N   ethernet interfaces per router (default 5)`;

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(`${flag} takes a whole number from ${min} to ${max}`);
  }
  return value;
}

/** The command line, checked; throws an Error naming every problem's flag. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = {
    count: 1,
    basePort: 0,
    version: DEFAULT_VERSION,
    host: '127.0.0.1',
    interfaces: 5,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=')
      ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)]
      : [flag];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (name) {
      case '--count':
        options.count = integer(name, value(), 1, 10_000);
        break;
      case '--base-port':
        options.basePort = integer(name, value(), 0, 65535);
        break;
      case '--version': {
        const version = value();
        if (version === undefined || !VERSIONS.includes(version)) {
          throw new Error(`--version takes one of ${VERSIONS.join(', ')}`);
        }
        options.version = version;
        break;
      }
      case '--host': {
        const host = value();
        if (!host) throw new Error('--host takes an address');
        options.host = host;
        break;
      }
      case '--interfaces':
        options.interfaces = integer(name, value(), 1, 256);
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (options.basePort > 0 && options.basePort + 2 * options.count - 1 > 65535) {
    throw new Error(`--base-port ${options.basePort} leaves no room for ${options.count} routers`);
  }
  return options;
}
