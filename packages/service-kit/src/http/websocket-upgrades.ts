import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { pathnameOf } from './http-server.js';

/** Whether an upgrade may become a WebSocket: yes, or the HTTP status it is refused with. */
export type UpgradeDecision = { ok: true } | { ok: false; status: number };

export interface WebSocketUpgradesOptions {
  http: Server;
  /** The one path that upgrades; any other is refused with 404. */
  path: string;
  maxPayloadBytes: number;
  /** Decides before the socket is accepted (signature, rate limit, …); may not throw. */
  admit: (req: IncomingMessage) => UpgradeDecision | Promise<UpgradeDecision>;
}

export interface WebSocketUpgrades {
  /** The accepted sockets, for a protocol server (graphql-ws) to serve. */
  readonly sockets: WebSocketServer;
  /** Stops accepting upgrades and closes every socket (1001, going away). */
  close(): void;
}

/**
 * WebSocket upgrades on one path of an HTTP server: each is decided before its socket is
 * accepted, and a refused one gets a bare HTTP answer and no socket.
 */
export function acceptWebSockets(options: WebSocketUpgradesOptions): WebSocketUpgrades {
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    perMessageDeflate: false,
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    if (pathnameOf(req) !== options.path) {
      refuse(socket, 404);
      return;
    }
    void Promise.resolve(options.admit(req)).then((decision) => {
      if (!decision.ok) {
        refuse(socket, decision.status);
        return;
      }
      sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
    });
  };
  options.http.on('upgrade', onUpgrade);
  return {
    sockets,
    close() {
      options.http.off('upgrade', onUpgrade);
      for (const client of sockets.clients) client.close(1001, 'Going away');
    },
  };
}

function refuse(socket: Duplex, status: number): void {
  const text = STATUS_CODES[status] ?? 'Refused';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
