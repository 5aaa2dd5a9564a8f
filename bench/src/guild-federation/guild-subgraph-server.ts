import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ServerOptions as HttpsOptions } from 'node:https';
import { execute, GraphQLError, parse, validate, type GraphQLSchema } from 'graphql';
import {
  createHttpServer,
  HttpError,
  LruCache,
  pathnameOf,
  readBody,
  SignatureCheck,
  type Logger,
} from '@fleet/service-kit';
import { GUILD_SUBGRAPHS, type GuildSubgraph } from './guild-schemas.js';
import { guildSubgraphSchema } from './guild-subgraphs.js';

const MAX_BODY_BYTES = 1_048_576;
/** Answers kept, by subgraph and request body: the plans of one query ask a few dozen distinct ones. */
const MEMO_ENTRIES = 1_000;

/** Calls answered so far, per subgraph, and signatures checked. */
export interface CallCounts {
  calls: Record<GuildSubgraph, number>;
  signed: number;
}

/**
 * The four subgraphs behind one port, each at its own path (`/accounts`, …) as the reference's
 * server serves them. Their data never changes, so each distinct request body is executed once
 * and its serialized answer served again: the subgraphs cost next to nothing and the gateway
 * in front of them is what a benchmark measures. With `keys`, every call must carry a valid
 * request signature of the gateway for that subgraph (checked before the memo is consulted).
 */
export class GuildSubgraphServer {
  readonly #schemas = new Map<string, { name: GuildSubgraph; schema: GraphQLSchema }>();
  readonly #memo = new LruCache<string, string>(MEMO_ENTRIES);
  readonly #counts: CallCounts;
  readonly #logger: Logger;

  constructor(logger: Logger, counts: CallCounts) {
    for (const name of GUILD_SUBGRAPHS)
      this.#schemas.set(`/${name}`, { name, schema: guildSubgraphSchema(name) });
    this.#logger = logger;
    this.#counts = counts;
  }

  /**
   * An HTTP server for these subgraphs; with keys, one that accepts only the gateway's signed
   * calls; with `tls`, over HTTPS.
   */
  server(keys?: Record<GuildSubgraph, Buffer>, tls?: HttpsOptions): Server {
    // Each subgraph is its own audience with its own key, as the platform's subgraphs are.
    const verifiers = keys
      ? new Map(
          GUILD_SUBGRAPHS.map((name) => [
            name,
            {
              check: new SignatureCheck({ audience: name, logger: this.#logger }),
              callers: new Map([['gateway', keys[name]]]),
            },
          ]),
        )
      : undefined;
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const target = this.#schemas.get(pathnameOf(req));
      if (!target) throw new HttpError(404, 'Not found');
      if (req.method !== 'POST') throw new HttpError(405, 'Only POST is accepted here');
      const body = await readBody(req, MAX_BODY_BYTES);
      const verifier = verifiers?.get(target.name);
      if (verifier) {
        verifier.check.check(req, body, verifier.callers);
        this.#counts.signed++;
      }
      this.#counts.calls[target.name]++;
      const memoKey = `${target.name}\n${body.toString()}`;
      let answer = this.#memo.get(memoKey);
      if (answer === undefined) {
        answer = await this.#execute(target.schema, body);
        this.#memo.set(memoKey, answer);
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    };
    const server = createHttpServer(handle, this.#logger, tls);
    server.keepAliveTimeout = 60_000;
    return server;
  }

  async #execute(schema: GraphQLSchema, body: Buffer): Promise<string> {
    const request = JSON.parse(body.toString()) as {
      query?: string;
      variables?: Record<string, unknown>;
      operationName?: string;
    };
    if (typeof request.query !== 'string') throw new HttpError(400, 'A GraphQL request has a query');
    const document = parse(request.query);
    const errors = validate(schema, document);
    if (errors.length > 0)
      return JSON.stringify({ errors: errors.map((error: GraphQLError) => error.toJSON()) });
    const result = await execute({
      schema,
      document,
      variableValues: request.variables,
      operationName: request.operationName,
    });
    return JSON.stringify(result);
  }
}
