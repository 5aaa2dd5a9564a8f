import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/** The bytes of one relayed connection, each way. */
export interface RecordedConnection {
  readonly toServer: Buffer[];
  readonly toClient: Buffer[];
}

export interface TcpRecorder {
  readonly port: number;
  readonly connections: readonly RecordedConnection[];
  close(): Promise<void>;
}

export interface TcpRecorderOptions {
  /**
   * How long to hold each chunk of the server's answers, from when it arrived, before relaying it
   * (read per chunk; 0 relays at once): a slow server, for as long as a test wants one. Order is kept.
   */
  replyDelayMs?: () => number;
}

/**
 * A relay on loopback that forwards every connection to `targetPort` and keeps what crosses it
 * both ways: what a capture of the traffic between two processes would see.
 */
export async function startTcpRecorder(
  targetPort: number,
  options: TcpRecorderOptions = {},
): Promise<TcpRecorder> {
  const replyDelayMs = options.replyDelayMs ?? (() => 0);
  const connections: RecordedConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const recorded: RecordedConnection = { toServer: [], toClient: [] };
    connections.push(recorded);
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      recorded.toServer.push(chunk);
      upstream.write(chunk);
    });
    // The answers to the client, in order, each held from when it arrived.
    let replies = Promise.resolve();
    const toClient = (send: () => void) => {
      const due = Date.now() + replyDelayMs();
      replies = replies.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        send();
      });
    };
    upstream.on('data', (chunk: Buffer) => {
      recorded.toClient.push(chunk);
      toClient(() => client.write(chunk));
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => toClient(() => client.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
