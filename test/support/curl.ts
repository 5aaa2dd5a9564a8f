import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/**
 * A GraphQL call as an operator makes one from a shell: curl over HTTPS, trusting the
 * authority `ca` (a PEM file) for the gateway's certificate, and nothing more.
 */
export async function curlGraphql<T = Record<string, unknown>>(
  gateway: { url: string; ca: string },
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<{ data?: T; errors?: { message: string }[] }> {
  const { stdout } = await run('curl', [
    '--silent',
    '--show-error',
    '--cacert',
    gateway.ca,
    gateway.url,
    '-H',
    'content-type: application/json',
    ...(token ? ['-H', `authorization: Bearer ${token}`] : []),
    '--data-binary',
    JSON.stringify({ query, variables }),
  ]);
  return JSON.parse(stdout) as { data?: T; errors?: { message: string }[] };
}
