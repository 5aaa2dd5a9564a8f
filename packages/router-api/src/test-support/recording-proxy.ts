import { createServer, connect, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodeSentence, SentenceDecoder } from '@fleet/routeros-wire';

export interface ProxyOptions {
  /**
   * Re-send each reply sentence in two TCP writes some milliseconds apart: its words, then the
   * zero byte that ends it. A receiver that frames by TCP chunks instead of by the protocol is lost.
   */
  splitTerminators?: boolean;
}

/** A TCP proxy in front of a router that records every sentence the client sends. */
export async function recordingProxy(
  host: string,
  port: number,
  options: ProxyOptions = {},
): Promise<{
  port: number;
  sentences: string[][];
  close(): Promise<void>;
}> {
  const sentences: string[][] = [];
  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect(port, host);
    const requests = new SentenceDecoder();
    const replies = new SentenceDecoder();
    let sending = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      sentences.push(...requests.push(chunk));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!options.splitTerminators) {
        client.write(chunk);
        return;
      }
      for (const sentence of replies.push(chunk)) {
        const bytes = encodeSentence(sentence);
        sending = sending.then(async () => {
          client.write(bytes.subarray(0, -1));
          await new Promise((resolve) => setTimeout(resolve, 30));
          client.write(bytes.subarray(-1));
          await new Promise((resolve) => setTimeout(resolve, 30));
        });
      }
    });
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
