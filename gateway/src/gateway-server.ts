import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import {
  closeGracefully,
  createHttpServer,
  executeGraphQL,
  HttpError,
  lazyChild,
  listen,
  maskError,
  mutualTlsFromConfig,
  pathnameOf,
  readBody,
  sendJson,
  type Logger,
  type StartedService,
} from '@fleet/service-kit';
import { aaaEndpoint } from './authentication/aaa-internal-calls.js';
import { anonymousAccessPlugin } from './authentication/anonymous-access-plugin.js';
import { authorizationPlugin } from './authorization/index.js';
import { ApiKeyVerifier } from './authentication/api-key-verifier.js';
import { sendAuthenticationRefusal } from './authentication/authentication-refusal.js';
import { Authenticator } from './authentication/authenticator.js';
import { clientAddressOf } from './authentication/client-address.js';
import { RevocationFeed } from './authentication/revocation-feed.js';
import { subgraphEndpoints, type GatewayConfig, type SubgraphEndpoint } from './config.js';
import { edgeTlsFromConfig } from './edge/edge-tls.js';
import { operationLimitsRule, withLimitCode } from './operation-limits/index.js';
import {
  billingTierLookup,
  PlanTiers,
  RateLimiter,
  rateLimitPlugin,
  refusalHeaders,
  type Admission,
} from './rate-limits/index.js';
import { mergingGateway, stringifyResult } from './request-merging/index.js';
import { trustedDocumentsPlugin } from './trusted-documents/trusted-documents-plugin.js';
import { callerOf, type GatewayContext } from './gateway-context.js';
import { enrollmentForward } from './enrollment/enrollment-endpoint.js';
import { forwardAnonymous, type AnonymousForward } from './forwarding/anonymous-forward.js';
import { stripeWebhookForward } from './payment-webhooks/stripe-webhook-endpoint.js';
import { checkSubgraphs } from './health/readiness.js';
import { SignedDataSource } from './subgraph-calls/signed-data-source.js';
import { supergraphFromFile } from './supergraph/supergraph-file.js';
import { SupergraphRuleBook } from './supergraph/supergraph-rules.js';
import {
  attachGraphQLWs,
  CurrentPlanner,
  sseHandler,
  SubscriptionHub,
  SubscriptionService,
  Subscribers,
  UpstreamConnections,
  wantsEventStream,
} from './subscriptions/index.js';

// Since 2.14 @apollo/gateway reports usage data to an outside host unless this is set before a
// gateway is constructed. Every gateway this project starts goes through here.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export interface GatewayOptions {
  /**
   * For the protection-cost benchmark only, and not reachable from configuration: serves without
   * operation limits, rate limits, field authorization and trusted documents (authentication and
   * signing stay), to measure what they cost.
   */
  unprotected?: boolean;
  /**
   * For the peer-comparison benchmark only, and not reachable from configuration: subgraphs the
   * supergraph names beyond the platform's own (each with its URL, signing key and TLS).
   */
  extraSubgraphs?: Record<string, SubgraphEndpoint>;
}

/**
 * The public edge: serves the composed supergraph over HTTP, planning with Apollo's gateway and
 * signing every subgraph call with that subgraph's own key. Every request is authenticated
 * before Apollo sees it (access token, API key, or anonymous and confined to signing in).
 */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  options: GatewayOptions = {},
): Promise<StartedService> {
  const protect = options.unprotected !== true;
  const edge = edgeTlsFromConfig(config, logger);
  const tls = mutualTlsFromConfig('gateway', config, logger, {
    AAA_URL: config.AAA_URL,
    DEVICES_URL: config.DEVICES_URL,
    BILLING_URL: config.BILLING_URL,
    AUDIT_URL: config.AUDIT_URL,
  });
  const endpoints = subgraphEndpoints(config, tls);
  const planned: Record<string, SubgraphEndpoint> = { ...endpoints, ...options.extraSubgraphs };
  const aaa = aaaEndpoint(config.AAA_URL, config.KEY_AAA, tls);
  const revocations = new RevocationFeed({
    aaa,
    logger: logger.child({ component: 'revocation-feed' }),
    pollMs: config.REVOCATION_POLL_MS,
    onApiKeysRevoked: (keyIds) => apiKeys.evict(keyIds),
    onUpdate: () => subscribers.sweep(),
  });
  const apiKeys = new ApiKeyVerifier({
    aaa,
    logger: logger.child({ component: 'api-keys' }),
    isRevoked: (keyId) => revocations.apiKeyRevoked(keyId),
  });
  const authenticator = new Authenticator({ tokenKeys: config.TOKEN_KEYS, revocations, apiKeys });
  const planTiers = new PlanTiers({
    lookup: billingTierLookup(config.BILLING_URL, config.KEY_BILLING, tls),
    ttlMs: config.PLAN_TIER_CACHE_S * 1000,
    logger: logger.child({ component: 'plan-tiers' }),
  });
  const rateLimiter = new RateLimiter(config, logger.child({ component: 'rate-limits' }), (tenantId) =>
    planTiers.tierOf(tenantId),
  );
  // The public entries of callers without credentials, each to the one subgraph that checks theirs.
  const anonymousForwards = new Map<string, AnonymousForward>([
    [
      '/enroll',
      enrollmentForward(
        { origin: new URL(config.DEVICES_URL).origin, key: config.KEY_DEVICES, tls },
        // Devices connects back to the router before it answers.
        config.REQUEST_DEADLINE_MS,
      ),
    ],
    [
      '/webhooks/stripe',
      stripeWebhookForward(
        { origin: new URL(config.BILLING_URL).origin, key: config.KEY_BILLING, tls },
        config.SUBGRAPH_TIMEOUT_MS,
      ),
    ],
  ]);
  const rules = new SupergraphRuleBook();
  const dataSources: SignedDataSource[] = [];
  // The newest data source of each subgraph: subscriptions fetch the rest of their plans through them.
  const dataSourcesByName: Record<string, SignedDataSource> = {};
  const gateway = new ApolloGateway({
    supergraphSdl: supergraphFromFile(config.SUPERGRAPH_PATH, logger),
    buildService: ({ name }) => {
      const endpoint = planned[name];
      if (!endpoint) throw new Error(`The supergraph names a subgraph this gateway has no key for: ${name}`);
      const source = new SignedDataSource({
        name,
        url: endpoint.url,
        key: endpoint.key,
        timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
        maxResponseBytes: config.MAX_SUBGRAPH_RESPONSE_BYTES,
        tls,
      });
      dataSources.push(source);
      dataSourcesByName[name] = source;
      return source;
    },
    logger: apolloLogger(logger),
  });
  const development = config.MODE === 'development';
  const planner = new CurrentPlanner(config.SUBSCRIPTION_PLAN_CACHE, (error) =>
    logger.error({ err: error }, 'cannot plan subscriptions on the new supergraph; refusing them'),
  );
  const upstream = new UpstreamConnections(
    new Map(Object.entries(endpoints)),
    config.SUBSCRIPTION_KEEPALIVE_MS,
  );
  const hub = new SubscriptionHub({
    connections: upstream,
    dataSources: dataSourcesByName,
    bufferSize: config.SUBSCRIPTION_BUFFER,
    retryMaxMs: config.SUBSCRIPTION_RETRY_MAX_MS,
    eventDeadlineMs: config.REQUEST_DEADLINE_MS,
    logger,
  });
  const subscribers = new Subscribers(config, revocations);
  const subscriptions = new SubscriptionService({
    authenticator,
    admission: {
      planner: () => planner.get(),
      rules,
      config,
      rateLimiter: protect ? rateLimiter : null,
      development,
    },
    hub,
    subscribers,
    logger: logger.child({ component: 'subscriptions' }),
  });
  const sse = sseHandler({
    service: subscriptions,
    maxBodyBytes: config.MAX_BODY_BYTES,
    keepAliveMs: config.SUBSCRIPTION_KEEPALIVE_MS,
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway: config.REQUEST_MERGING ? mergingGateway(gateway) : gateway,
    // Merged requests share one result: its JSON is written once for all of them.
    ...(config.REQUEST_MERGING ? { stringifyResult } : {}),
    introspection: development,
    csrfPrevention: true,
    // The process's own shutdown stops this server, after the HTTP server has drained.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: !development,
    validationRules: protect ? [operationLimitsRule(config)] : [],
    parseOptions: protect ? { maxTokens: config.MAX_TOKENS } : {},
    // One operation per request: batches would multiply every other limit.
    allowBatchedHttpRequests: false,
    // Automatic persisted queries for front ends, in a cache of bounded size.
    persistedQueries: {
      cache: new InMemoryLRUCache<string>({ maxSize: config.APQ_CACHE_BYTES }),
      ttl: 86_400,
    },
    formatError: (formatted, error) => {
      const masked = maskError(withLimitCode(formatted));
      if (masked.extensions?.code === 'INTERNAL_SERVER_ERROR') {
        logger.error({ err: error, path: formatted.path }, 'operation failed');
      }
      return development ? formatted : masked;
    },
    plugins: [
      anonymousAccessPlugin({ introspection: development }),
      rules.plugin<GatewayContext>(),
      planner.plugin<GatewayContext>(),
      ...(protect
        ? [authorizationPlugin(rules), trustedDocumentsPlugin(), rateLimitPlugin(rateLimiter, config, rules)]
        : []),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
    ],
  });

  const addressOf = (req: IncomingMessage): string =>
    clientAddressOf(
      { remoteAddress: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'] },
      config.TRUSTED_PROXY_HOPS,
    );

  const hsts = edge && config.HSTS_MAX_AGE_S > 0 ? `max-age=${config.HSTS_MAX_AGE_S}` : undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Browsers that once reached the gateway over HTTPS never try it in plain HTTP again.
    if (hsts) res.setHeader('strict-transport-security', hsts);
    const path = pathnameOf(req);
    // Liveness answers before anything else: it must not depend on Redis or the subgraphs.
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const clientAddress = addressOf(req);
    // Before anything is read or checked: a flood costs one counter per request.
    const admission: Admission = protect
      ? await rateLimiter.admitRequest(clientAddress)
      : { ok: true, quotas: [] };
    if (!admission.ok) {
      sendRateLimitRefusal(res, admission, config.RATE_LIMIT_WINDOW_S);
      return;
    }
    if (path === '/readyz') {
      const subgraphs = await checkSubgraphs(endpoints);
      const ready = Object.values(subgraphs).every((status) => status === 'ok');
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', subgraphs });
      return;
    }
    const forward = anonymousForwards.get(path);
    if (forward) {
      await forwardAnonymous(req, res, forward, {
        clientAddress,
        requestId: randomUUID(),
        logger,
        rateLimiter,
        refuse: (response, refused) => sendRateLimitRefusal(response, refused, config.RATE_LIMIT_WINDOW_S),
      });
      return;
    }
    if (path !== '/graphql') throw new HttpError(404, 'Not found');
    if (wantsEventStream(req)) {
      await sse(req, res, clientAddress);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      throw new HttpError(405, 'Only GET and POST are accepted here');
    }
    const offered = req.headers['x-request-id'];
    const requestId = typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID();
    res.setHeader('x-request-id', requestId);
    const body = req.method === 'POST' ? await readBody(req, config.MAX_BODY_BYTES) : Buffer.alloc(0);
    const started = performance.now();
    // One line per request, at its end; a child logger for the request only if something logs.
    let caller: Record<string, string> = {};
    res.once('finish', () => {
      logger.info(
        {
          requestId,
          ...caller,
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    });
    const authentication = await authenticator.authenticate(req.headers);
    if (!authentication.ok) {
      // The reason and the kind of credential, never the credential itself.
      const level = authentication.status === 503 ? 'warn' : 'info';
      logger[level](
        { requestId, reason: authentication.reason, credential: authentication.credential },
        'refused the request credentials',
      );
      sendAuthenticationRefusal(res, authentication.status);
      return;
    }
    const { principal, trustedDocuments } = authentication;
    caller = callerOf(principal);
    const context: GatewayContext = {
      principal,
      trustedDocuments,
      deadline: Date.now() + config.REQUEST_DEADLINE_MS,
      requestId,
      logger: lazyChild(logger, { requestId, ...caller }),
      clientAddress,
      quotas: admission.quotas,
    };
    await executeGraphQL(apollo, req, res, body, () => Promise.resolve(context));
  };

  const http = createHttpServer(handle, logger, edge?.serverOptions());
  if (edge) edge.attach(http as HttpsServer);
  const websockets = attachGraphQLWs({
    http,
    path: '/graphql',
    service: subscriptions,
    admitUpgrade: async (req) => {
      const clientAddress = addressOf(req);
      const admission = protect ? await rateLimiter.admitRequest(clientAddress) : { ok: true as const };
      return admission.ok ? { ok: true, clientAddress } : { ok: false, status: admission.status };
    },
    maxPayloadBytes: config.MAX_BODY_BYTES,
    keepAliveMs: config.SUBSCRIPTION_KEEPALIVE_MS,
    logger: logger.child({ component: 'subscriptions' }),
  });
  const stopSubscriptions = async () => {
    subscribers.stop();
    await websockets.close();
    hub.close();
    await upstream.close();
  };
  const stopAuthentication = async () => {
    await revocations.stop();
    apiKeys.close();
    planTiers.close();
    await rateLimiter.close();
    edge?.close();
    await tls?.close();
  };
  await revocations.start();
  subscribers.start();
  try {
    await apollo.start();
  } catch (error) {
    await stopSubscriptions();
    await stopAuthentication();
    throw error;
  }
  let port: number;
  try {
    port = await listen(http, config.HOST, config.PORT);
  } catch (error) {
    await stopSubscriptions();
    await apollo.stop();
    await stopAuthentication();
    throw error;
  }
  logger.info(
    { host: config.HOST, port, mode: config.MODE, scheme: edge ? 'https' : 'http' },
    'gateway listening',
  );
  return {
    port,
    async stop() {
      // Streams end first: an open subscription would hold the HTTP server's drain.
      await stopSubscriptions();
      await closeGracefully(http, 10_000);
      await apollo.stop();
      await stopAuthentication();
      await Promise.all(dataSources.map((source) => source.close()));
    },
  };
}

/** A request refused before it was read: over its address's budget, or limits unknowable. */
function sendRateLimitRefusal(
  res: ServerResponse,
  admission: Exclude<Admission, { ok: true }>,
  windowS: number,
): void {
  const headers = refusalHeaders(admission, windowS);
  const error =
    admission.status === 429
      ? {
          message: `Too many requests from this address; retry in ${admission.retryAfterS} s`,
          code: 'RATE_LIMITED',
        }
      : {
          message: 'Rate limits cannot be checked right now; try again shortly',
          code: 'SERVICE_UNAVAILABLE',
        };
  sendJson(
    res,
    admission.status,
    { errors: [{ message: error.message, extensions: { code: error.code } }] },
    headers,
  );
}

/** Apollo's own messages, through our logger. */
function apolloLogger(logger: Logger) {
  const child = logger.child({ component: 'apollo' });
  return {
    debug: (message: unknown) => child.debug(String(message)),
    info: (message: unknown) => child.info(String(message)),
    warn: (message: unknown) => child.warn(String(message)),
    error: (message: unknown) => child.error(String(message)),
  };
}
