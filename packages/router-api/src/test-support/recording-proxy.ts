import { createServer, connect, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SentenceDecoder } from '@fleet/routeros-wire';

/** A TCP proxy in front of a router that records every sentence the client sends. */
export async function recordingProxy(
  host: string,
  port: number,
): Promise<{
  port: number;
  sentences: string[][];
  close(): Promise<void>;
}> {
  const sentences: string[][] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    const decoder = new SentenceDecoder();
    client.on('data', (chunk: Buffer) => {
      sentences.push(...decoder.push(chunk));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sentences,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
