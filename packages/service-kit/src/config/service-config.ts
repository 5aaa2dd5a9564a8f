import { decodeKey } from '@fleet/request-signing';
import { mutualTlsConfigSpec } from '../tls/mutual-tls-config.js';
import { databaseUrl, integer, oneOf, port, secretKey, string, url, type ConfigOf } from './config.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A signing key variable: 32 random bytes or more, base64url. */
export function signingKey(doc: string) {
  return secretKey({ doc, decode: decodeKey });
}

export function logLevel(service: string) {
  return oneOf(LOG_LEVELS, { doc: `Log level of the ${service} service.`, default: 'info' });
}

/**
 * The variables every subgraph reads. Each is read under the subgraph's own prefix: `PORT` of
 * devices is `DEVICES_PORT`.
 */
export function subgraphConfigSpec(service: string, defaultPort: number) {
  const prefix = `${service.toUpperCase()}_`;
  return {
    HOST: string({ doc: `Address the ${service} service listens on.`, default: '127.0.0.1' }),
    PORT: port({ doc: `Port of the ${service} service (0 picks a free one).`, default: defaultPort }),
    DATA_DIR: string({
      doc: `Directory of the ${service} service's embedded database, used when ${prefix}DATABASE_URL is unset.`,
      default: `.data/${service}`,
    }),
    DATABASE_URL: databaseUrl({
      doc: `PostgreSQL URL of the ${service} service's own database; unset means the embedded database.`,
    }),
    KEY_GATEWAY: signingKey(`Key the gateway signs its calls to ${service} with (base64url, 32 bytes).`),
    MAX_BODY_BYTES: integer({
      doc: `Largest request body the ${service} service reads.`,
      default: 1_048_576,
      min: 1_024,
      max: 67_108_864,
    }),
    LOG_LEVEL: logLevel(service),
    ...mutualTlsConfigSpec(service),
  };
}

/** The variables of a service that ships its events to audit through an outbox. */
export function producerConfigSpec(service: string) {
  return {
    AUDIT_URL: url({
      doc: `Base URL of the audit service, where ${service} ships its events.`,
      default: 'https://127.0.0.1:4104',
    }),
    KEY_AUDIT: signingKey(`Key ${service} signs the events it ships to audit with (base64url, 32 bytes).`),
    OUTBOX_MAX_BACKOFF_MS: integer({
      doc: `Longest wait between two attempts to ship ${service}'s events while audit is unreachable.`,
      default: 30_000,
      min: 100,
      max: 3_600_000,
    }),
  };
}

export type ProducerConfig = ConfigOf<ReturnType<typeof producerConfigSpec>>;
