import { resolve } from 'node:path';
import { createAwsKmsKeyProvider, createLocalKeyProvider, type KeyProvider } from '@fleet/envelope';
import { ConfigError } from '@fleet/service-kit';
import type { AaaConfig } from '../config.js';

/** The key provider the configuration names, or a ConfigError listing what is missing. */
export async function keyProviderFromConfig(config: AaaConfig): Promise<KeyProvider> {
  if (config.VAULT_PROVIDER === 'local') {
    return createLocalKeyProvider({ keyFile: resolve(config.DATA_DIR, config.VAULT_MASTER_KEY_FILE) });
  }
  const {
    KMS_KEY_ID: keyId,
    KMS_ACCESS_KEY_ID: accessKeyId,
    KMS_SECRET_ACCESS_KEY: secretAccessKey,
  } = config;
  if (!keyId || !accessKeyId || !secretAccessKey) {
    const missing = [
      ...(keyId ? [] : ['AAA_KMS_KEY_ID']),
      ...(accessKeyId ? [] : ['AAA_KMS_ACCESS_KEY_ID']),
      ...(secretAccessKey ? [] : ['AAA_KMS_SECRET_ACCESS_KEY']),
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
