import { decodeLength, encodeLength, WireError } from './word-length.js';

/** A sentence is a list of words; on the wire each word is length-prefixed and a zero-length word ends it. */
export type Sentence = string[];

export function encodeSentence(words: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const word of words) {
    const bytes = Buffer.from(word, 'utf8');
    if (bytes.length === 0) throw new WireError('a word inside a sentence cannot be empty');
    parts.push(encodeLength(bytes.length), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface SentenceDecoderOptions {
  /** Largest word accepted, in bytes (a peer announcing more is refused). */
  maxWordBytes?: number;
  /** Most words accepted in one sentence. */
  maxWords?: number;
}

/**
 * Turns a byte stream into sentences, however the stream was cut: a length prefix, a word or a
 * sentence may arrive in any number of pieces. Text is UTF-8. A control byte, an oversized word
 * or an oversized sentence throws WireError; the connection should then be closed.
 */
export class SentenceDecoder {
  readonly #maxWordBytes: number;
  readonly #maxWords: number;
  #buffer: Buffer = Buffer.alloc(0);
  #words: string[] = [];

  constructor(options: SentenceDecoderOptions = {}) {
    this.#maxWordBytes = options.maxWordBytes ?? 16 * 1024 * 1024;
    this.#maxWords = options.maxWords ?? 100_000;
  }

  /** Feeds bytes; returns every sentence they complete, in order. Empty sentences are dropped. */
  push(chunk: Buffer): Sentence[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const sentences: Sentence[] = [];
    let offset = 0;
    for (;;) {
      const prefix = decodeLength(this.#buffer, offset);
      if (!prefix) break;
      if (prefix.length > this.#maxWordBytes) {
        throw new WireError(`word of ${prefix.length} bytes exceeds the limit of ${this.#maxWordBytes}`);
      }
      const end = offset + prefix.size + prefix.length;
      if (end > this.#buffer.length) break;
      if (prefix.length === 0) {
        if (this.#words.length > 0) sentences.push(this.#words);
        this.#words = [];
      } else {
        if (this.#words.length >= this.#maxWords) {
          throw new WireError(`sentence exceeds ${this.#maxWords} words`);
        }
        this.#words.push(this.#buffer.toString('utf8', offset + prefix.size, end));
      }
      offset = end;
    }
    this.#buffer = offset === this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(offset);
    return sentences;
  }

  /** Bytes received that do not yet form a complete word. */
  get pendingBytes(): number {
    return this.#buffer.length;
  }
}
