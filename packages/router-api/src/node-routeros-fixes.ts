import { Channel, Connector, Receiver, RosException, RouterOSAPI, Transmitter } from 'routeros-client';
import { encodeLength, legacyLoginResponse, SentenceDecoder, WireError } from '@fleet/routeros-wire';

/**
 * Fixes to the RouterOS client library, applied once to its classes when this module loads.
 *
 * `routeros-client` (and the `node-routeros` it is built on) is abandoned upstream; its version is
 * pinned, so the internals patched here cannot move. Each fix answers one hazard, and each has a
 * test against the simulator that fails without it:
 *
 * 1. Framing. The library's receiver ignores the zero-length word that ends a sentence and guesses
 *    boundaries from how TCP cut the stream: replies arriving in small fragments never complete.
 *    Sentences are now framed by the wire codec, whatever the fragmentation.
 * 2. Text. Words were encoded and decoded as Windows-1252, so Cyrillic, CJK or emoji became `?`.
 *    They are UTF-8 now, both ways.
 * 3. `!empty` (RouterOS 7.18+). An unknown reply word made the channel throw inside the socket's
 *    data handler, crashing the process. `!empty` is now ignored until the `!done` that follows,
 *    and any other unknown reply fails its call instead of the process.
 * 4. Replies for a tag nobody reads (a call that timed out, say) threw `UNREGISTEREDTAG` from the
 *    same handler; they are now dropped.
 * 5. Certificate pinning. The library hands its TLS options straight to `tls.connect` and logs in
 *    as soon as TLS is up; a pinned SHA-256 fingerprint is now checked before anything is sent.
 * 6. Connection errors lost their reason (refused, reset, certificate not trusted) when the
 *    library rewrapped them; they now reach the caller as Node raised them. And a socket error
 *    after the library had torn the connection down (a router that closes during the TLS
 *    handshake: 'end', then ECONNRESET) was emitted with no listener left, ending the process;
 *    it is dropped now, the connection having failed already.
 * 7. Login. An unexpected answer to `/login` left the library's login neither failed nor done (a
 *    rejection nobody returned): the connection counted as logged in, and the stray rejection
 *    could end the process. Login is now plain first, the pre-6.43 challenge when the router
 *    offers one, and anything else a refusal.
 * 8. Writes. A sentence went out one socket write per word: with Nagle's algorithm, every word
 *    after the first waited for the router to acknowledge the first, which a router delays (40 ms
 *    on Linux), so every call paid that wait. A sentence is now one write.
 */

/** TLS options may carry this: the peer certificate's SHA-256 fingerprint, `AB:CD:…`. */
export const PINNED_FINGERPRINT = 'fleetPinnedFingerprint256';

interface ReceiverInternals {
  socket: { emit(event: string, ...args: unknown[]): boolean; destroy(error?: Error): void };
  tags: Map<string, { callback: (packet: string[]) => void }>;
  fleetDecoder?: SentenceDecoder;
}

interface ChannelInternals {
  trapped: boolean;
  streaming: boolean;
  data: unknown[];
  emit(event: string, ...args: unknown[]): boolean;
  close(force?: boolean): void;
  parsePacket(packet: string[]): Record<string, string>;
}

interface ConnectorInternals {
  tls?: Record<string, unknown>;
  socket: { getPeerCertificate(): { fingerprint256?: string } };
  onError(error: Error): void;
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
  destroy(): void;
}

interface TransmitterInternals {
  socket: { writable: boolean; write(data: Buffer): boolean };
  pool: Buffer[];
  encodeString(text: string | null): Buffer;
}

interface ApiInternals {
  user: string;
  password: string;
  connecting: boolean;
  connector: { destroy(): void } | null;
  write(command: string, params: string[]): Promise<Record<string, string>[]>;
}

const REFUSED = /^(cannot log in|invalid user name or password \(6\))$/;
const CHALLENGE = /^[0-9a-f]{32}$/i;

let applied = false;

export function applyNodeRouterOsFixes(): void {
  if (applied) return;
  applied = true;

  // 1 and 4: frame sentences properly; drop replies for tags nobody reads.
  (Receiver.prototype as unknown as { processRawData(data: Buffer): void }).processRawData = function (
    this: ReceiverInternals,
    data: Buffer,
  ): void {
    this.fleetDecoder ??= new SentenceDecoder();
    let sentences: string[][];
    try {
      sentences = this.fleetDecoder.push(data);
    } catch (error) {
      this.socket.destroy(error instanceof WireError ? error : new WireError(String(error)));
      return;
    }
    for (const sentence of sentences) {
      if (sentence[0] === '!fatal') {
        // The connector ends the connection on this event; pending calls fail with it.
        this.socket.emit('fatal');
        return;
      }
      const tagWord = sentence.find((word) => word.startsWith('.tag='));
      if (!tagWord) continue;
      const reader = this.tags.get(tagWord.slice('.tag='.length));
      reader?.callback(sentence.filter((word) => word !== tagWord));
    }
  };

  // 2: UTF-8 words with the protocol's length prefix.
  (Transmitter.prototype as unknown as { encodeString(text: string | null): Buffer }).encodeString = (
    text: string | null,
  ): Buffer => {
    if (text === null) return Buffer.from([0]);
    const bytes = Buffer.from(text, 'utf8');
    return Buffer.concat([encodeLength(bytes.length), bytes]);
  };

  // 8: a sentence in one write, kept in the pool as one while the socket is not writable yet.
  const connectorWrite = Connector.prototype as unknown as {
    write: (this: { transmitter: TransmitterInternals }, words: string[]) => unknown;
  };
  connectorWrite.write = function (this: { transmitter: TransmitterInternals }, words: string[]) {
    const transmitter = this.transmitter;
    const sentence = Buffer.concat([...words, null].map((word) => transmitter.encodeString(word)));
    if (!transmitter.socket.writable || transmitter.pool.length > 0) transmitter.pool.push(sentence);
    else transmitter.socket.write(sentence);
    return this;
  };

  // 3: `!empty` waits for `!done`; other unknown replies fail the call, not the process.
  const channel = Channel.prototype as unknown as {
    processPacket: (this: ChannelInternals, packet: string[]) => void;
  };
  const processPacket = channel.processPacket;
  channel.processPacket = function (this: ChannelInternals, packet: string[]): void {
    const reply = packet[0];
    if (reply === '!empty') return;
    if (reply === '!re' || reply === '!done' || reply === '!trap') {
      processPacket.call(this, packet);
      return;
    }
    this.trapped = true;
    this.emit('trap', { message: `unexpected reply ${String(reply)}` });
    this.close();
  };

  // 5: check a pinned certificate before logging in.
  const connector = Connector.prototype as unknown as { onConnect: (this: ConnectorInternals) => void };
  const onConnect = connector.onConnect;
  connector.onConnect = function (this: ConnectorInternals): void {
    const pinned = this.tls?.[PINNED_FINGERPRINT];
    if (typeof pinned === 'string') {
      const actual = this.socket.getPeerCertificate().fingerprint256;
      if (!actual || actual.toUpperCase() !== pinned.toUpperCase()) {
        this.onError(new Error('the router certificate does not match the pinned fingerprint'));
        return;
      }
    }
    onConnect.call(this);
  };

  // 7: a login that either succeeds or fails.
  (RouterOSAPI.prototype as unknown as { login: (this: ApiInternals) => Promise<unknown> }).login =
    async function (this: ApiInternals): Promise<unknown> {
      this.connecting = true;
      try {
        const first = await this.write('/login', [`=name=${this.user}`, `=password=${this.password}`]);
        if (first.length === 0) return this;
        const challenge = first.length === 1 ? first[0]?.ret : undefined;
        if (!challenge || !CHALLENGE.test(challenge)) throw new RosException('CANTLOGIN');
        const response = legacyLoginResponse(this.password, challenge);
        const second = await this.write('/login', [`=name=${this.user}`, `=response=${response}`]);
        if (second.length > 0) throw new RosException('CANTLOGIN');
        return this;
      } catch (error) {
        this.connector?.destroy();
        throw error instanceof Error && REFUSED.test(error.message) ? new RosException('CANTLOGIN') : error;
      }
    };

  // 6: errors as raised, with their code and message; none after the connector was torn down.
  (Connector.prototype as unknown as { onError: (this: ConnectorInternals, error: Error) => void }).onError =
    function (this: ConnectorInternals, error: Error): void {
      if (this.listenerCount('error') > 0) this.emit('error', error, this);
      this.destroy();
    };
}
