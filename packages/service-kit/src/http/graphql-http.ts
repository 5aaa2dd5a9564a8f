import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { HttpError } from './http-server.js';

/**
 * Hands one HTTP request to Apollo Server and writes its answer. The body has been read already
 * (it was needed for size limits and signatures); here it is parsed, and malformed JSON is
 * refused with 400 before Apollo sees it.
 */
export async function executeGraphQL<C extends BaseContext>(
  apollo: ApolloServer<C>,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  context: () => Promise<C>,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const url = req.url ?? '/';
  const search = url.includes('?') ? url.slice(url.indexOf('?')) : '';
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: {
      method,
      headers,
      search,
      body: method === 'POST' ? parseJsonBody(headers, body) : undefined,
    },
    context,
  });
  // Apollo answers a mutation sent by GET with 405; for the client that is a bad request.
  const status = method === 'GET' && response.status === 405 ? 400 : (response.status ?? 200);
  res.statusCode = status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  if (response.body.kind === 'complete') {
    res.end(encoded(response.body.string));
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

function parseJsonBody(headers: HeaderMap, body: Buffer): unknown {
  const contentType = headers.get('content-type') ?? '';
  if (!contentType.toLowerCase().startsWith('application/json')) {
    // Apollo refuses it with a clear message (and this is the CSRF guard's business too).
    return body.toString('utf8');
  }
  if (body.length === 0) throw new HttpError(400, 'Request body is empty: expected a JSON object');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'Malformed JSON in request body');
  }
}

/** Longest body remembered encoded (characters): a larger one is encoded for its own response. */
const MAX_REMEMBERED_BODY = 1_048_576;
let lastBody = '';
let lastEncoded = Buffer.alloc(0);

/**
 * A body as UTF-8, encoded once (Node would measure a string for Content-Length and then encode
 * it). Requests that shared one execution answer with the very same text one after the other
 * (the gateway's request merging): the last encoding is reused for them.
 */
function encoded(body: string): Buffer {
  if (body.length > MAX_REMEMBERED_BODY) return Buffer.from(body, 'utf8');
  if (body !== lastBody) {
    lastBody = body;
    lastEncoded = Buffer.from(body, 'utf8');
  }
  return lastEncoded;
}
