export {
  boolean,
  ConfigError,
  databaseUrl,
  integer,
  loadConfig,
  oneOf,
  port,
  redisUrl,
  secretKey,
  optionalString,
  secretText,
  string,
  url,
  type ConfigOf,
  type ConfigSpec,
  type Variable,
} from './config/config.js';
export {
  LOG_LEVELS,
  logLevel,
  producerConfigSpec,
  signingKey,
  subgraphConfigSpec,
  type ProducerConfig,
} from './config/service-config.js';
export { LruCache } from './caching/lru-cache.js';
export { createLogger, type Logger, type LoggerOptions } from './logging/logger.js';
export { lazyChild } from './logging/lazy-child.js';
export {
  BadUserInputError,
  ConflictError,
  ErrorCode,
  ForbiddenError,
  maskError,
  MfaRequiredError,
  NotFoundError,
  ServiceUnavailableError,
  TooManyAttemptsError,
  UnauthenticatedError,
} from './errors/errors.js';
export { openDatabase, type Database, type DatabaseOptions, type Engine } from './database/open-database.js';
export { ANONYMOUS, encodePrincipal, type Principal } from './identity/principal.js';
export { hasScopeIn, isPlatformAdmin, isPlatformReader, isSelf } from './identity/access-policy.js';
export {
  accessRules,
  type AccessRules,
  denyByDefault,
  inputTenantArgument,
  tenantIdArgument,
} from './identity/access-rules.js';
export {
  closeGracefully,
  createHttpServer,
  HttpError,
  httpErrorOf,
  listen,
  pathnameOf,
  readBody,
  sendJson,
  type RequestHandler,
} from './http/http-server.js';
export { executeGraphQL } from './http/graphql-http.js';
export { signedWebSocket, type SignedWebSocketOptions } from './http/signed-websocket.js';
export {
  acceptWebSockets,
  type UpgradeDecision,
  type WebSocketUpgrades,
  type WebSocketUpgradesOptions,
} from './http/websocket-upgrades.js';
export { SignatureCheck, type SignatureCheckOptions, type SignedRequest } from './http/signed-requests.js';
export type { SignedRoute } from './subgraph/subgraph-server.js';
export {
  runService,
  type ReadyMessage,
  type ServiceDefinition,
  type StartedService,
} from './service/run-service.js';
export { intervalTask, type IntervalTaskOptions } from './service/interval-task.js';
export { signedPost, signedPostHeaders, type SignedPostOptions } from './http/signed-client.js';
export {
  startSubgraph,
  type BackgroundWorker,
  type SubgraphConfig,
  type SubgraphPeers,
  type SubgraphParts,
  type SubgraphServiceOptions,
} from './subgraph/start-subgraph.js';
export { jsonScalar } from './subgraph/json-scalar.js';
export {
  readCertificateFiles,
  type CertificateFiles,
  type CertificateMaterial,
} from './tls/certificate-files.js';
export { MutualTls, tlsIdentityOf, type MutualTlsOptions } from './tls/mutual-tls.js';
export { mutualTlsConfigSpec, mutualTlsFromConfig, type MutualTlsConfig } from './tls/mutual-tls-config.js';
export { describeTlsFailure, MIN_TLS_VERSION, TLS12_CIPHERS } from './tls/tls-policy.js';
export { redisTlsOptions } from './tls/redis-tls.js';
export { watchFiles, type FileWatch } from './tls/watched-files.js';
