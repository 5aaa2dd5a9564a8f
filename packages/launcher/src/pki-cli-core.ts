import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { isHostName, loadOrCreatePki, replaceFile } from '@fleet/internal-pki';
import { RENEWAL_CHECK_MS } from './certificates.js';

/** Every service of a deployment, each with a directory of its own under the output. */
export const PKI_SERVICES = ['gateway', 'aaa', 'devices', 'billing', 'audit'] as const;
export type PkiService = (typeof PKI_SERVICES)[number];

/** The gateway's edge certificate names when none are given. */
export const DEFAULT_EDGE_NAMES: readonly string[] = ['localhost', '127.0.0.1'];

export const USAGE = `Usage: pki-cli --state <dir> --out <dir> [--watch] [edge-name ...]

Keeps the internal PKI of a deployment: an authority and one certificate per service
(${PKI_SERVICES.join(', ')}), and an edge certificate the gateway shows its clients.

  --state <dir>  where the authority (ca.key) and every certificate are kept; no service reads it
  --out <dir>    where each service's own files are published: <out>/<service>/tls.crt, tls.key
                 and ca.crt, and for the gateway also edge.crt and edge.key
  --watch        keep running: look every 6 hours for what is due for renewal and publish it
  edge-name      a DNS name, an IP address, or a URL whose host is taken, for the edge
                 certificate (default: ${DEFAULT_EDGE_NAMES.join(' ')})
`;

/** A command line that cannot be used: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export interface PkiCliArgs {
  readonly stateDir: string;
  readonly outDir: string;
  readonly watch: boolean;
  readonly edgeNames: readonly string[];
  readonly help: boolean;
}

/** An edge name as the certificate carries it: a URL stands for its host. */
function edgeNameOf(argument: string): string {
  let name = argument;
  if (argument.includes('://')) {
    let url: URL;
    try {
      url = new URL(argument);
    } catch {
      throw new UsageError(`${JSON.stringify(argument)} is not a URL`);
    }
    name = url.hostname.replace(/^\[(.*)\]$/, '$1');
  }
  name = name.toLowerCase();
  if (!isHostName(name)) {
    throw new UsageError(
      `edge name ${JSON.stringify(argument)} is neither a DNS name, an IP address nor a URL with a host`,
    );
  }
  return name;
}

function contains(outer: string, inner: string): boolean {
  const path = relative(outer, inner);
  return path === '' || (!path.startsWith('..') && !isAbsolute(path));
}

export function parsePkiCliArgs(argv: readonly string[]): PkiCliArgs {
  let stateDir: string | undefined;
  let outDir: string | undefined;
  let watch = false;
  let help = false;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    const [option, inline] = argument.startsWith('--') ? splitOption(argument) : [argument, undefined];
    const value = (): string => {
      const given = inline ?? argv[++i];
      if (given === undefined || given === '' || (inline === undefined && given.startsWith('--'))) {
        throw new UsageError(`${option} takes a directory`);
      }
      return given;
    };
    if (option === '--state') stateDir = value();
    else if (option === '--out') outDir = value();
    else if (option === '--watch' && inline === undefined) watch = true;
    else if ((option === '--help' || option === '-h') && inline === undefined) help = true;
    else if (argument.startsWith('-')) throw new UsageError(`unknown option ${argument}`);
    else names.push(edgeNameOf(argument));
  }
  if (help) return { stateDir: '', outDir: '', watch, edgeNames: [], help };
  if (stateDir === undefined) throw new UsageError('--state <dir> is required');
  if (outDir === undefined) throw new UsageError('--out <dir> is required');
  const [state, out] = [resolve(stateDir), resolve(outDir)];
  if (contains(out, state) || contains(state, out)) {
    throw new UsageError(
      '--state and --out must be separate directories, neither inside the other: the authority’s key must never be published',
    );
  }
  const edgeNames = [...new Set(names.length > 0 ? names : DEFAULT_EDGE_NAMES)];
  return { stateDir: state, outDir: out, watch, edgeNames, help };
}

function splitOption(argument: string): [string, string | undefined] {
  const at = argument.indexOf('=');
  return at === -1 ? [argument, undefined] : [argument.slice(0, at), argument.slice(at + 1)];
}

export interface PublishOptions {
  readonly stateDir: string;
  readonly outDir: string;
  readonly edgeNames: readonly string[];
  /** The moment to judge validity at; defaults to the current time. */
  readonly now?: Date;
}

export interface Publication {
  /** What the PKI issued anew during this call (`ca`, `edge` or a service). */
  readonly issued: readonly string[];
  /** The published files written anew, relative to the output directory. */
  readonly written: readonly string[];
}

/**
 * Keeps the PKI in `stateDir` and publishes each service's own files into `<outDir>/<service>/`:
 * `tls.crt`, `tls.key` (0600) and `ca.crt`, and for the gateway `edge.crt` and `edge.key` (0600)
 * too. Nothing else is published: never the authority's key, never one service's key into
 * another's directory. A file is replaced (by a rename inside its directory, so a mount of that
 * directory sees the new one) only when its contents changed, so services reload only what was
 * renewed; looser modes found are tightened. Directories are 0700, owned like the files by the
 * user running this, which is the user the services run as.
 */
export async function publishPki(options: PublishOptions): Promise<Publication> {
  const pki = await loadOrCreatePki(options.stateDir, PKI_SERVICES, {
    edgeNames: options.edgeNames,
    ...(options.now ? { now: options.now } : {}),
  });
  ensurePrivateDirectory(options.outDir);
  const written: string[] = [];
  for (const service of PKI_SERVICES) {
    const dir = join(options.outDir, service);
    ensurePrivateDirectory(dir);
    const own = pki.services[service];
    // The authority first, then each key before its certificate: a service that looks in between
    // finds a pair that does not fit, refuses it and keeps what it has until the next look.
    const files: [string, string, number][] = [
      ['ca.crt', pki.caCertificatePem, 0o644],
      ['tls.key', own.privateKeyPem, 0o600],
      ['tls.crt', own.certificatePem, 0o644],
    ];
    if (service === 'gateway' && pki.edge) {
      files.push(['edge.key', pki.edge.privateKeyPem, 0o600], ['edge.crt', pki.edge.certificatePem, 0o644]);
    }
    for (const [name, contents, mode] of files) {
      if (publishFile(join(dir, name), contents, mode)) written.push(`${service}/${name}`);
    }
  }
  return { issued: pki.issued, written };
}

function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** Writes the file when its contents differ; answers whether it did. */
function publishFile(path: string, contents: string, mode: number): boolean {
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`Cannot read ${path}: ${(error as Error).message}`);
    }
  }
  if (current === contents) {
    if ((statSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
    return false;
  }
  replaceFile(path, contents, mode);
  return true;
}

export interface RunOptions {
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  /** How often --watch looks again (default 6 hours). */
  readonly intervalMs?: number;
  /** The clock the PKI is judged by (tests move it). */
  readonly now?: () => Date;
  /** Ends --watch. */
  readonly signal?: AbortSignal;
}

/**
 * The command line: publishes once, or with --watch until `signal` aborts. Answers the exit code
 * (0, 1 when publishing failed, 2 for a command line that cannot be used).
 */
export async function runPkiCli(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const stdout = options.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text));
  let args: PkiCliArgs;
  try {
    args = parsePkiCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr(`pki-cli: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    stdout(USAGE);
    return 0;
  }
  const publish = async (): Promise<Publication> => {
    const publication = await publishPki({
      stateDir: args.stateDir,
      outDir: args.outDir,
      edgeNames: args.edgeNames,
      ...(options.now ? { now: options.now() } : {}),
    });
    if (publication.issued.length > 0) stdout(`issued: ${publication.issued.join(', ')}\n`);
    if (publication.written.length > 0) {
      stdout(`published into ${args.outDir}: ${publication.written.join(', ')}\n`);
    }
    return publication;
  };
  try {
    await publish();
  } catch (error) {
    stderr(`pki-cli: ${(error as Error).message}\n`);
    return 1;
  }
  if (!args.watch) return 0;
  const intervalMs = options.intervalMs ?? RENEWAL_CHECK_MS;
  stdout(`watching: the next look for renewals in ${Math.round(intervalMs / 60_000)} min\n`);
  const signal = options.signal;
  let running: Promise<void> | undefined;
  await new Promise<void>((done) => {
    if (signal?.aborted) return done();
    const timer = setInterval(() => {
      // A look still under way (a slow disk) is not overtaken by the next.
      running ??= publish().then(
        () => (running = undefined),
        (error: unknown) => {
          stderr(`pki-cli: could not renew: ${(error as Error).message}\n`);
          running = undefined;
        },
      );
    }, intervalMs);
    signal?.addEventListener('abort', () => {
      clearInterval(timer);
      done();
    });
  });
  // Files are replaced by renames, but a look under way is let finish before the end.
  await running;
  return 0;
}
