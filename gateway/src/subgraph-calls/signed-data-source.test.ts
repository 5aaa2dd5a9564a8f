import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { ANONYMOUS, createLogger, encodePrincipal } from '@fleet/service-kit';
import type { GatewayContext } from '../gateway-context.js';
import { SignedDataSource } from './signed-data-source.js';

/** A stand-in subgraph that answers slowly, hugely or at once, as the query asks. */
function subgraph(): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const { query } = JSON.parse(body) as { query: string };
      if (query.includes('slow')) {
        setTimeout(() => res.end('{"data":{"slow":true}}'), 2_000).unref();
        return;
      }
      if (query.includes('refused')) {
        res.statusCode = 401;
        res.end('{"errors":[{"message":"bad signature"}]}');
        return;
      }
      if (query.includes('broken')) {
        res.end('{"data": {"email": "someone@example.com"');
        return;
      }
      if (query.includes('html')) {
        res.setHeader('content-type', 'text/html');
        res.end('<p>not GraphQL</p>');
        return;
      }
      if (query.includes('huge')) {
        res.end(JSON.stringify({ data: { huge: 'x'.repeat(100_000) } }));
        return;
      }
      res.end(
        JSON.stringify({
          data: {
            fine: true,
            deadline: req.headers['x-fleet-deadline'] ?? null,
            principal: req.headers['x-fleet-principal'] ?? null,
          },
        }),
      );
    });
  });
}

describe('calls to a subgraph', () => {
  let server: Server;
  let source: SignedDataSource;

  const context = (deadline: number): GatewayContext => ({
    principal: ANONYMOUS,
    requestId: 'request-1',
    quotas: [],
    logger: createLogger({ service: 'test', level: 'silent' }),
    clientAddress: '',
    trustedDocuments: null,
    deadline,
  });
  const call = (query: string, deadline = Date.now() + 60_000) =>
    source.process({
      kind: 0 as never,
      request: { query, http: { method: 'POST', url: '', headers: new Headers() } },
      context: context(deadline),
    });

  beforeAll(async () => {
    server = subgraph();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    source = new SignedDataSource({
      name: 'devices',
      tls: undefined,
      url: `http://127.0.0.1:${port}/graphql`,
      key: decodeKey(generateKey()) as Buffer,
      timeoutMs: 500,
      maxResponseBytes: 10_000,
    });
  });

  afterAll(async () => {
    await source.close();
    server.close();
  });

  it('answers within its limits, without telling the subgraph the deadline', async () => {
    const answer = await call('{ fine }');
    expect(answer.data).toEqual({ fine: true, deadline: null, principal: encodePrincipal(ANONYMOUS) });
  });

  it('fails a call the subgraph refuses, with the refusal’s code', async () => {
    await expect(call('{ refused }')).rejects.toMatchObject({
      message: 'devices answered 401',
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('fails malformed JSON without quoting it', async () => {
    const failure = call('{ broken }');
    await expect(failure).rejects.toThrow('devices answered malformed JSON');
    await expect(failure).rejects.not.toThrow(/someone/);
  });

  it('fails an answer that is not JSON', async () => {
    await expect(call('{ html }')).rejects.toThrow(/text\/html, not JSON/);
  });

  it('fails a call that outlives its timeout', async () => {
    await expect(call('{ slow }')).rejects.toThrow();
  });

  it('fails a call once the request’s deadline has passed', async () => {
    await expect(call('{ fine }', Date.now() - 1)).rejects.toThrow(/deadline/);
  });

  it('fails a call the request’s deadline cuts short', async () => {
    await expect(call('{ slow }', Date.now() + 100)).rejects.toThrow(
      /deadline passed while devices was answering/,
    );
  });

  it('refuses an answer larger than the limit', async () => {
    await expect(call('{ huge }')).rejects.toThrow(/more than 10000 bytes/);
  });
});
