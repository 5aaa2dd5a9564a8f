import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { postForText } from './post-for-text.js';

describe('a POST answered as text', () => {
  let server: Server;
  let pool: Pool;
  const received: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(`${req.url} ${body}`);
        if (req.url === '/split') {
          // "é" is two bytes in UTF-8; each goes out in its own chunk.
          const bytes = Buffer.from('{"name":"René"}');
          const at = bytes.indexOf(0xc3) + 1;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(bytes.subarray(0, at));
          setTimeout(() => res.end(bytes.subarray(at)), 20);
          return;
        }
        if (req.url === '/slow') {
          setTimeout(() => res.end('late'), 2_000).unref();
          return;
        }
        res.writeHead(418, { 'content-type': 'text/plain' });
        res.end(`echo ${body}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2 });
  });

  afterAll(async () => {
    await pool.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (path: string, signal?: AbortSignal) =>
    postForText(pool, { path, headers: { 'content-type': 'text/plain' }, body: 'hello', signal });

  it('answers the status, the content type and the body as sent', async () => {
    expect(await post('/echo')).toEqual({ statusCode: 418, contentType: 'text/plain', text: 'echo hello' });
  });

  it('decodes a character split between two chunks', async () => {
    expect((await post('/split')).text).toBe('{"name":"René"}');
  });

  it('rejects with the signal’s reason when it aborts in flight, and the pool goes on', async () => {
    const controller = new AbortController();
    const pending = post('/slow', controller.signal);
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    await expect(pending).rejects.toThrow('deadline');
    expect((await post('/echo')).statusCode).toBe(418);
  });

  it('sends nothing when its signal has already aborted', async () => {
    const before = received.length;
    await expect(post('/echo', AbortSignal.abort(new Error('too late')))).rejects.toThrow('too late');
    await post('/echo');
    expect(received.slice(before)).toEqual(['/echo hello']);
  });
});
