import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { encodeSentence, SentenceDecoder } from '@fleet/routeros-wire';

const DEFAULT_DEADLINE_MS = 5000;

/**
 * A bare API client for tests: writes exact bytes, reads sentences in arrival order, and keeps every
 * byte received so replies can be compared byte for byte.
 */
export class RawClient {
  readonly socket: Socket | TLSSocket;
  /** Every byte received so far. */
  received: Buffer = Buffer.alloc(0);
  /** How many 'data' events (reads) delivered those bytes. */
  reads = 0;
  readonly #decoder = new SentenceDecoder();
  readonly #sentences: string[][] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.reads++;
      this.received = Buffer.concat([this.received, chunk]);
      this.#sentences.push(...this.#decoder.push(chunk));
      this.#wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connectTcp({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  static connectTls(port: number, options: ConnectionOptions = {}, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connectTls({ port, host, rejectUnauthorized: false, ...options }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(...words: string[]): void {
    this.socket.write(encodeSentence(words));
  }

  /** The next sentence, in order; rejects when the connection closes first or the deadline passes. */
  async next(deadlineMs = DEFAULT_DEADLINE_MS): Promise<string[]> {
    await this.#waitFor(() => this.#sentences.length > 0, deadlineMs, 'a sentence');
    return this.#sentences.shift()!;
  }

  /** Sentences up to and including the first `!done` (of the tag, if one is given). */
  async untilDone(tag?: string, deadlineMs = DEFAULT_DEADLINE_MS): Promise<string[][]> {
    const collected: string[][] = [];
    for (;;) {
      const sentence = await this.next(deadlineMs);
      collected.push(sentence);
      if (sentence[0] === '!done' && (tag === undefined || sentence.includes(`.tag=${tag}`)))
        return collected;
    }
  }

  /** Sends a command and returns its replies up to `!done`. */
  async command(...words: string[]): Promise<string[][]> {
    this.send(...words);
    return this.untilDone();
  }

  async login(name = 'admin', password = 'admin'): Promise<void> {
    const replies = await this.command('/login', `=name=${name}`, `=password=${password}`);
    if (replies.length !== 1 || replies[0]!.length !== 1)
      throw new Error(`login failed: ${JSON.stringify(replies)}`);
  }

  /** Resolves once the peer has closed the connection. */
  async waitClosed(deadlineMs = DEFAULT_DEADLINE_MS): Promise<void> {
    await this.#waitFor(() => this.#closed, deadlineMs, 'the connection to close');
  }

  /** Nothing more arrives within the time given (for "never answers" faults). */
  async expectSilence(milliseconds: number): Promise<void> {
    const before = this.received.length;
    await new Promise((resolve) => setTimeout(resolve, milliseconds));
    if (this.received.length !== before) throw new Error('expected no reply, got one');
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  async #waitFor(ready: () => boolean, deadlineMs: number, what: string): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (!ready()) {
      if (this.#closed && what !== 'the connection to close')
        throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** Polls until the check passes or the deadline (ms) passes; for state that changes by itself. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
