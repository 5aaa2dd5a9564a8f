import { boolean, ConfigError, integer, optionalString, type ConfigOf } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { MutualTls } from './mutual-tls.js';

/**
 * The variables of a service's mutual TLS with the others, read under its prefix. `npm start`
 * sets the three files to certificates of the internal authority it keeps; a deployment may
 * point them at certificates of its own (a mesh's, a corporate authority's).
 */
export function mutualTlsConfigSpec(service: string) {
  return {
    MTLS_CERT_FILE: optionalString({
      doc: `PEM certificate ${service} shows the other services (as server and as client); it must carry the URI name \`urn:fleet:service:${service}\`.`,
    }),
    MTLS_KEY_FILE: optionalString({ doc: `PEM private key of ${service}'s certificate.` }),
    MTLS_CA_FILE: optionalString({
      doc: `PEM certificate of the authority whose certificates ${service} accepts from the other services (and nothing else).`,
    }),
    MTLS_DISABLED: boolean({
      doc: `Talk to the other services in plain HTTP, without mutual TLS: for development only, and warned about at start.`,
      default: false,
    }),
    TLS_RELOAD_MS: integer({
      doc: `How often ${service} looks for renewed certificate files.`,
      default: 10_000,
      min: 100,
      max: 3_600_000,
    }),
  };
}

export type MutualTlsConfig = ConfigOf<ReturnType<typeof mutualTlsConfigSpec>>;

/**
 * The service's mutual TLS from its configuration, or undefined when it was explicitly turned
 * off (with a warning). Refuses, naming the variables, a configuration that has it on but lacks a
 * file, and peers' URLs that do not match: https with mutual TLS, http without.
 */
export function mutualTlsFromConfig(
  service: string,
  config: MutualTlsConfig,
  logger: Logger,
  peerUrls: Record<string, string | undefined> = {},
): MutualTls | undefined {
  const prefix = `${service.toUpperCase()}_`;
  const scheme = config.MTLS_DISABLED ? 'http:' : 'https:';
  const problems = Object.entries(peerUrls)
    .filter(([, url]) => url !== undefined && new URL(url).protocol !== scheme)
    .map(([name, url]) =>
      config.MTLS_DISABLED
        ? `${prefix}${name}: must be an http:// URL while ${prefix}MTLS_DISABLED is set (got ${new URL(url!).protocol})`
        : `${prefix}${name}: must be an https:// URL: ${service} calls the other services over mutual TLS`,
    );
  if (config.MTLS_DISABLED) {
    if (problems.length > 0) throw new ConfigError(problems);
    logger.warn(
      `mutual TLS is OFF (${prefix}MTLS_DISABLED): ${service} talks to the other services in plain HTTP, with request signatures only. Never run it so outside development.`,
    );
    return undefined;
  }
  const files = {
    certFile: config.MTLS_CERT_FILE,
    keyFile: config.MTLS_KEY_FILE,
    caFile: config.MTLS_CA_FILE,
  };
  for (const [name, value] of [
    ['MTLS_CERT_FILE', files.certFile],
    ['MTLS_KEY_FILE', files.keyFile],
    ['MTLS_CA_FILE', files.caFile],
  ] as const) {
    if (!value) {
      problems.push(
        `${prefix}${name}: required, as ${service} talks to the other services over mutual TLS (${prefix}MTLS_DISABLED=true turns that off, for development only)`,
      );
    }
  }
  if (problems.length > 0 || !files.certFile || !files.keyFile || !files.caFile)
    throw new ConfigError(problems);
  try {
    return new MutualTls({
      service,
      certFile: files.certFile,
      keyFile: files.keyFile,
      caFile: files.caFile,
      reloadMs: config.TLS_RELOAD_MS,
      logger,
    });
  } catch (error) {
    throw new ConfigError([`${prefix}MTLS_CERT_FILE: ${(error as Error).message}`]);
  }
}
