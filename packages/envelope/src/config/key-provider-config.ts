import { resolve } from 'node:path';
import { ConfigError, integer, oneOf, secretText, string, url, type ConfigOf } from '@fleet/service-kit';
import { createAwsKmsKeyProvider } from '../providers/aws-kms/aws-kms-key-provider.js';
import type { KeyProvider } from '../providers/key-provider.js';
import { createLocalKeyProvider } from '../providers/local/local-key-provider.js';

/**
 * The variables that choose a service's key provider and size its key cache, read under the
 * service's prefix (`AAA_VAULT_PROVIDER`, `DEVICES_VAULT_PROVIDER`, …): each service that seals
 * data has its own key hierarchy, its own master key file or KMS key.
 */
export function keyProviderConfigSpec(service: string) {
  const prefix = `${service.toUpperCase()}_`;
  return {
    VAULT_PROVIDER: oneOf(['local', 'aws-kms'], {
      doc: 'Who wraps tenant keys: `local` (a master key file) or `aws-kms`.',
      default: 'local',
    }),
    VAULT_MASTER_KEY_FILE: string({
      doc: `The local provider's master key file (mode 0600), created on first start; a relative path is in ${prefix}DATA_DIR.`,
      default: 'master.key',
    }),
    KMS_ENDPOINT: url({
      doc: "AWS KMS endpoint (aws-kms provider); unset means AWS's own for the region.",
      optional: true,
    }),
    KMS_REGION: string({ doc: 'AWS region of the KMS key (aws-kms provider).', default: 'us-east-1' }),
    KMS_KEY_ID: string({
      doc: 'Id or ARN of the KMS key that wraps tenant keys (aws-kms provider).',
      default: '',
    }),
    KMS_ACCESS_KEY_ID: secretText({ doc: 'Access key id for KMS (aws-kms provider).' }),
    KMS_SECRET_ACCESS_KEY: secretText({ doc: 'Secret access key for KMS (aws-kms provider).' }),
    VAULT_CACHE_TTL_MS: integer({
      doc: 'How long an unwrapped key stays in memory.',
      default: 600_000,
      min: 1_000,
      max: 3_600_000,
    }),
    VAULT_CACHE_MAX_ENTRIES: integer({
      doc: 'Most unwrapped keys kept in memory.',
      default: 50_000,
      min: 100,
      max: 1_000_000,
    }),
  };
}

export type KeyProviderConfig = ConfigOf<ReturnType<typeof keyProviderConfigSpec>> & { DATA_DIR: string };

/** The key provider a service's configuration names, or a ConfigError listing what is missing. */
export async function keyProviderFromConfig(
  config: KeyProviderConfig,
  service: string,
): Promise<KeyProvider> {
  if (config.VAULT_PROVIDER === 'local') {
    return createLocalKeyProvider({ keyFile: resolve(config.DATA_DIR, config.VAULT_MASTER_KEY_FILE) });
  }
  const {
    KMS_KEY_ID: keyId,
    KMS_ACCESS_KEY_ID: accessKeyId,
    KMS_SECRET_ACCESS_KEY: secretAccessKey,
  } = config;
  if (!keyId || !accessKeyId || !secretAccessKey) {
    const prefix = `${service.toUpperCase()}_`;
    const missing = [
      ...(keyId ? [] : [`${prefix}KMS_KEY_ID`]),
      ...(accessKeyId ? [] : [`${prefix}KMS_ACCESS_KEY_ID`]),
      ...(secretAccessKey ? [] : [`${prefix}KMS_SECRET_ACCESS_KEY`]),
    ];
    throw new ConfigError(missing.map((name) => `${name}: is required with the aws-kms provider`));
  }
  return createAwsKmsKeyProvider({
    region: config.KMS_REGION,
    keyId,
    credentials: { accessKeyId, secretAccessKey },
    ...(config.KMS_ENDPOINT ? { endpoint: config.KMS_ENDPOINT } : {}),
  });
}
