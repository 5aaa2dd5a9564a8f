import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that never reach a log line. Secrets (keys, passwords, tokens, signatures) and PII
 * (emails, names, phone numbers) are replaced wherever they appear one or two levels deep.
 */
const SENSITIVE_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'newPassword',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'key',
  'keys',
  'privateKey',
  'credentials',
  'databaseUrl',
  'x-fleet-signature',
  'x-fleet-principal',
  'email',
  'phone',
  'fullName',
  'displayName',
];

export const REDACTED_PATHS = SENSITIVE_KEYS.flatMap((key) => {
  const path = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const child = path.startsWith('[') ? path : `.${path}`;
  return [path, `*${child}`, `*.*${child}`];
});

export interface LoggerOptions {
  service: string;
  level: string;
  /** Where lines go; standard output by default. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
