import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** Every answer must be exactly this text (a correct answer checked before). */
  expectBody: string;
  /** A warm-up's: answers that did not come within the timeout do not fail it. */
  allowTimeouts?: boolean;
}

/** Longest an answer may take: a gateway on a busy CPU answers 50 connections slowly. */
const TIMEOUT_S = 30;

/**
 * Drives a gateway with autocannon in a process of its own, on loopback; fails if any answer was
 * not a 200, not exactly the expected answer, or never came.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const autocannon = createRequire(import.meta.url).resolve('autocannon');
  const args = [
    autocannon,
    '--json',
    '--connections',
    String(options.connections),
    '--duration',
    String(options.seconds),
    '--timeout',
    String(TIMEOUT_S),
    '--method',
    'POST',
    '--headers',
    'content-type=application/json',
    ...Object.entries(options.headers).flatMap(([name, value]) => ['--headers', `${name}=${value}`]),
    '--body',
    options.body,
    '--expectBody',
    options.expectBody,
    options.url,
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`autocannon exited with ${code}`)),
    );
  });
  const result = JSON.parse(output) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
    mismatches: number;
  };
  const failed = result.errors - (options.allowTimeouts ? result.timeouts : 0);
  const timedOut = options.allowTimeouts ? 0 : result.timeouts;
  if (result.non2xx > 0 || failed > 0 || timedOut > 0 || result.mismatches > 0) {
    throw new Error(
      `${result.non2xx} non-2xx answers, ${result.mismatches} other than the correct answer, ${result.errors} errors, ${result.timeouts} timeouts: the comparison would be unfair`,
    );
  }
  if (!options.allowTimeouts && result.requests.total === 0)
    throw new Error('No answer came within the window');
  return {
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}
