import { GraphQLError, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { lazyChild, maskError, type Logger, type Principal } from '@fleet/service-kit';
import type { Authenticator } from '../authentication/authenticator.js';
import type { CredentialHeaders } from '../authentication/credentials.js';
import { callerOf } from '../gateway-context.js';
import { admitSubscription, type SubscriptionAdmissionOptions } from './subscription-admission.js';
import type { SubscriptionHub } from './subscription-hub.js';
import type { SubscriberStream } from './subscriber-stream.js';
import {
  CREDENTIAL_END_MESSAGES,
  type CredentialEnd,
  type SubscriberConnection,
  type Subscribers,
} from './subscribers.js';

/** The credentials a client presents, by the names of the HTTP headers that carry them. */
export type PresentedCredentials = CredentialHeaders;

export type Connected =
  | { ok: true; session: SubscriberSession }
  /** 401: wrong or missing credentials; 503: they cannot be checked now; 429: over a cap. */
  | { ok: false; status: 401 | 429 | 503; error: GraphQLFormattedError };

export type Subscribed =
  /** The stream of events, and the operation it runs (validated against `schema`). */
  | {
      ok: true;
      stream: SubscriberStream;
      schema: GraphQLSchema;
      document: DocumentNode;
      operationName: string | null;
    }
  | { ok: false; errors: GraphQLFormattedError[] };

/** The end of a credential, as the client is told it. */
export interface SessionEnd {
  reason: CredentialEnd;
  message: string;
}

export interface SubscriptionServiceOptions {
  authenticator: Pick<Authenticator, 'authenticate'>;
  admission: SubscriptionAdmissionOptions;
  hub: SubscriptionHub;
  subscribers: Subscribers;
  logger: Logger;
}

/**
 * Subscriptions, whatever carries them: the protocol adapters (graphql-ws, SSE) know sockets and
 * framing; this knows who may subscribe to what. A client connects with credentials (as on HTTP:
 * an access token or an API key; anonymous callers have nothing to subscribe to), then each
 * operation is admitted (subscription-admission.ts) and counted against the caps before it runs.
 */
export class SubscriptionService {
  readonly #options: SubscriptionServiceOptions;

  constructor(options: SubscriptionServiceOptions) {
    this.#options = options;
  }

  /**
   * Authenticates a new connection. `onEnd` is told when its credential expires or is revoked:
   * the adapter ends the connection with that reason.
   */
  async connect(
    credentials: PresentedCredentials,
    transport: 'websocket' | 'sse',
    clientAddress: string,
    onEnd: (end: SessionEnd) => void,
  ): Promise<Connected> {
    const { logger } = this.#options;
    const authentication = await this.#options.authenticator.authenticate(credentials);
    if (!authentication.ok) {
      const level = authentication.status === 503 ? 'warn' : 'info';
      logger[level](
        { reason: authentication.reason, credential: authentication.credential, transport },
        'refused the credentials of a subscriber',
      );
      return authentication.status === 503
        ? refused(503, 'Credentials cannot be checked right now; try again shortly', 'SERVICE_UNAVAILABLE')
        : refused(401, 'Invalid credentials', 'UNAUTHENTICATED');
    }
    const { principal, trustedDocuments, expiresAt } = authentication;
    if (principal.kind === 'anonymous' || expiresAt === null) {
      return refused(401, 'Subscriptions need an access token or an API key', 'UNAUTHENTICATED');
    }
    const connection = this.#options.subscribers.connect(principal, expiresAt, transport, (reason) =>
      onEnd({ reason, message: CREDENTIAL_END_MESSAGES[reason] }),
    );
    if (connection instanceof GraphQLError) {
      logger.info({ transport, ...callerOf(principal) }, 'refused a subscriber over its connection cap');
      return { ok: false, status: 429, error: maskError(connection.toJSON()) };
    }
    // Most subscribers never log: their logger is made when first needed.
    const sessionLogger = lazyChild(logger, { transport, ...callerOf(principal) });
    return {
      ok: true,
      session: new SubscriberSession(
        connection,
        trustedDocuments,
        clientAddress,
        sessionLogger,
        this.#options,
      ),
    };
  }
}

/** One authenticated connection's subscriptions. */
export class SubscriberSession {
  readonly #connection: SubscriberConnection;
  readonly #trustedDocuments: ReadonlySet<string> | null;
  readonly #clientAddress: string;
  readonly #logger: Logger;
  readonly #options: SubscriptionServiceOptions;

  constructor(
    connection: SubscriberConnection,
    trustedDocuments: ReadonlySet<string> | null,
    clientAddress: string,
    logger: Logger,
    options: SubscriptionServiceOptions,
  ) {
    this.#connection = connection;
    this.#trustedDocuments = trustedDocuments;
    this.#clientAddress = clientAddress;
    this.#logger = logger;
    this.#options = options;
  }

  get principal(): Principal {
    return this.#connection.principal;
  }

  /** Admits and starts one operation, or says why not (errors fit for the client). */
  async subscribe(payload: unknown): Promise<Subscribed> {
    const admission = await admitSubscription(
      payload,
      {
        principal: this.#connection.principal,
        trustedDocuments: this.#trustedDocuments,
        clientAddress: this.#clientAddress,
        logger: this.#logger,
      },
      this.#options.admission,
    );
    if (!admission.ok)
      return { ok: false, errors: admission.errors.map((error) => maskError(error.toJSON())) };
    const overCap = this.#connection.admit();
    if (overCap) {
      this.#logger.info('refused a subscription over its cap');
      return { ok: false, errors: [maskError(overCap.toJSON())] };
    }
    const { request, document } = admission;
    const stream = this.#options.hub.subscribe(request, () => this.#connection.release());
    return {
      ok: true,
      stream,
      schema: request.planner.apiSchema,
      document,
      operationName: request.operationName,
    };
  }

  /** The connection ended: its caps are released (its streams end through their adapter). */
  close(): void {
    this.#connection.disconnect();
  }
}

function refused(status: 401 | 503, message: string, code: string): Connected {
  return { ok: false, status, error: { message, extensions: { code } } };
}
