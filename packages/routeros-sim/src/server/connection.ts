import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { encodeSentence, SentenceDecoder } from '@fleet/routeros-wire';
import { Session, type SessionRouter } from '../protocol/session.js';

/** Bytes a client may have in flight, unfinished, before it has logged in. */
export const MAX_PENDING_BYTES_BEFORE_LOGIN = 16 * 1024;

/** Once a connection is told to close, how long the peer has to close its side. */
const CLOSE_GRACE_MS = 2000;

/**
 * One API connection on a socket (plain or TLS): frames sentences for its Session and writes the
 * replies, one sentence per write, with the router's transport faults applied (latency, hang,
 * a drop in the middle of a sentence, tiny fragments).
 */
export class ApiConnection {
  readonly #socket: Socket | TLSSocket;
  readonly #router: SessionRouter;
  readonly #decoder = new SentenceDecoder();
  readonly #session: Session;
  readonly #inbox: string[][] = [];
  #draining = false;
  readonly #outbox: Buffer[] = [];
  #pumping = false;
  #endAfterPump = false;
  #gone = false;

  constructor(socket: Socket | TLSSocket, router: SessionRouter, onClose: () => void) {
    this.#socket = socket;
    this.#router = router;
    this.#session = new Session(router, {
      send: (words) => this.#write(encodeSentence(words)),
      close: () => this.#end(),
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => this.drop());
    socket.on('close', () => {
      this.#gone = true;
      this.#session.dispose();
      onClose();
    });
  }

  /** Drops the connection at once, as a lost link or a reboot would. */
  drop(): void {
    this.#gone = true;
    this.#session.dispose();
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    if (this.#gone) return;
    let sentences: string[][];
    try {
      sentences = this.#decoder.push(chunk);
    } catch {
      // A control byte or an oversized word: the stream cannot be trusted any more.
      this.drop();
      return;
    }
    if (!this.#session.loggedIn && this.#decoder.pendingBytes > MAX_PENDING_BYTES_BEFORE_LOGIN) {
      this.drop();
      return;
    }
    this.#inbox.push(...sentences);
    this.#drain();
  }

  /** Hands sentences to the session in order, each after the router's latency. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    while (this.#inbox.length > 0 && !this.#gone) {
      const faults = this.#router.faults;
      if (faults.hang) {
        this.#inbox.length = 0;
        break;
      }
      const sentence = this.#inbox.shift()!;
      if (faults.latencyMs > 0) {
        const timer = setTimeout(() => {
          this.#session.handle(sentence);
          this.#draining = false;
          this.#drain();
        }, faults.latencyMs);
        timer.unref();
        return;
      }
      this.#session.handle(sentence);
    }
    this.#draining = false;
  }

  #write(bytes: Buffer): void {
    if (this.#gone) return;
    const faults = this.#router.faults;
    if (faults.dropMidSentence) {
      this.#gone = true;
      this.#session.dispose();
      const half = bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)));
      this.#socket.write(half, () => this.#socket.destroy());
      return;
    }
    if (faults.fragmentBytes > 0) {
      for (let at = 0; at < bytes.length; at += faults.fragmentBytes) {
        this.#outbox.push(bytes.subarray(at, at + faults.fragmentBytes));
      }
    } else if (this.#pumping) {
      this.#outbox.push(bytes);
    } else {
      this.#socket.write(bytes);
      return;
    }
    this.#pump();
  }

  /** Writes queued fragments one at a time, letting each leave before the next. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const step = (): void => {
      if (this.#gone) return;
      const chunk = this.#outbox.shift();
      if (!chunk) {
        this.#pumping = false;
        if (this.#endAfterPump) this.#end();
        return;
      }
      this.#socket.write(chunk, () => setTimeout(step, 1).unref());
    };
    step();
  }

  #end(): void {
    if (this.#pumping) {
      this.#endAfterPump = true;
      return;
    }
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}
