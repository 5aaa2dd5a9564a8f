import type { Dispatcher } from 'undici';

export interface PostRequest {
  /** Path and query string. */
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Aborts the call, queued or in flight, with the signal's reason. */
  signal: AbortSignal | undefined;
}

export interface TextAnswer {
  statusCode: number;
  /** The answer's content type; empty when it has none. */
  contentType: string;
  /** The whole body, decoded as UTF-8. */
  text: string;
}

/**
 * One POST through an undici dispatcher, its answer collected whole as text.
 *
 * It speaks undici's handler interface itself rather than `request()`: that API wraps every
 * call in an async resource and hands the body over as a Node stream, which on a plan of many
 * small subgraph calls costs a few per cent of the gateway's time (bench/README.md). Timeouts and
 * the largest answer are the dispatcher's own options; an error of the dispatcher, or the
 * signal's reason, rejects.
 */
export function postForText(dispatcher: Dispatcher, request: PostRequest): Promise<TextAnswer> {
  return new Promise<TextAnswer>((resolve, reject) => {
    dispatcher.dispatch(
      { method: 'POST', path: request.path, headers: request.headers, body: request.body },
      new TextAnswerHandler(request.signal, resolve, reject),
    );
  });
}

class TextAnswerHandler implements Dispatcher.DispatchHandler {
  readonly #signal: AbortSignal | undefined;
  readonly #resolve: (answer: TextAnswer) => void;
  readonly #reject: (error: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #statusCode = 0;
  #contentType = '';
  #chunks: Buffer[] = [];
  #settled = false;

  constructor(
    signal: AbortSignal | undefined,
    resolve: (answer: TextAnswer) => void,
    reject: (error: Error) => void,
  ) {
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    // In flight, the dispatcher ends the call and reports it through onResponseError; still
    // queued, it is aborted the moment it starts.
    this.#controller?.abort(this.#reason());
  };

  #reason(): Error {
    const reason: unknown = this.#signal?.reason;
    return reason instanceof Error ? reason : new Error('The call was aborted');
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal?.aborted) controller.abort(this.#reason());
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // Called again only after an informational (1xx) answer: what counts is the last.
    this.#statusCode = statusCode;
    const contentType = headers['content-type'];
    this.#contentType = (Array.isArray(contentType) ? contentType[0] : contentType) ?? '';
    this.#chunks = [];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settle()) return;
    const chunks = this.#chunks;
    // Decoded once, whole: a character split between two chunks comes out right.
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    this.#resolve({ statusCode: this.#statusCode, contentType: this.#contentType, text });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settle()) return;
    this.#reject(error);
  }

  /** Marks the call settled; answers whether it already was. */
  #settle(): boolean {
    if (this.#settled) return true;
    this.#settled = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    return false;
  }
}
