import { fetch } from 'undici';

/** A GraphQL error answered by the gateway, with its messages (never the variables sent). */
export class GatewayError extends Error {}

/**
 * Posts one operation to the gateway, as any client would, and returns its data; throws a
 * `GatewayError` with the gateway's messages when the answer carries errors.
 */
export async function callGateway<T>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await response.json()) as { data?: T | null; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) {
    const messages = body.errors?.map((error) => error.message).join('; ') ?? `HTTP ${response.status}`;
    throw new GatewayError(messages);
  }
  return body.data;
}

const LOGIN = `mutation($i: LoginInput!) { login(input: $i) { accessToken accessTokenExpiresAt refreshToken } }`;
const REFRESH = `mutation($r: String!) {
  refreshSession(refreshToken: $r) { accessToken accessTokenExpiresAt refreshToken }
}`;

interface Tokens {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
}

/** A signed-in session that refreshes its access token shortly before it expires. */
export class GatewaySession {
  readonly #url: string;
  #tokens: Tokens;

  private constructor(url: string, tokens: Tokens) {
    this.#url = url;
    this.#tokens = tokens;
  }

  static async signIn(
    url: string,
    credentials: { tenant: string; email: string; password: string },
  ): Promise<GatewaySession> {
    const { login } = await callGateway<{ login: Tokens }>(url, LOGIN, { i: credentials });
    return new GatewaySession(url, login);
  }

  async call<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    if (Date.parse(this.#tokens.accessTokenExpiresAt) - Date.now() < 60_000) {
      const { refreshSession } = await callGateway<{ refreshSession: Tokens }>(this.#url, REFRESH, {
        r: this.#tokens.refreshToken,
      });
      this.#tokens = refreshSession;
    }
    return callGateway<T>(this.#url, query, variables, this.#tokens.accessToken);
  }
}
