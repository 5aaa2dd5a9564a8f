import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKmsSim, type KmsSim } from '@fleet/kms-sim';
import { allAuditEvents } from '../support/audit-events.js';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import {
  createTenant,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const KMS_OPERATIONS = [
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'Decrypt',
  'Encrypt',
  'ReEncrypt',
];

/**
 * aaa with the aws-kms provider: the real AWS SDK talks to a local server that speaks the KMS
 * protocol. (The key service's behaviour does not depend on the database engine, so this suite
 * runs on the embedded one.)
 */
describe('aaa on a KMS-protocol key service', () => {
  let kms: KmsSim;
  let fleet: TestFederation;
  let member: TestMember;
  let keyId: string;

  const kmsCalls = () => {
    const calls = kms.calls();
    return KMS_OPERATIONS.reduce((sum, op) => sum + (calls[op] ?? 0), 0);
  };
  const tenantSlugs = async () =>
    (await fleet.asAdmin<{ tenants: { slug: string }[] }>('{ tenants { slug } }')).data!.tenants.map(
      (t) => t.slug,
    );
  const createFails = async (slug: string) => {
    const result = await fleet.asAdmin(
      'mutation($s: String!) { createTenant(input: { name: "Later", slug: $s }) { id } }',
      {
        s: slug,
      },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(await tenantSlugs()).not.toContain(slug);
  };
  const readsOwnData = async () => {
    const token = (await signIn(fleet, member)).accessToken;
    const me = await fleet.graphql('{ me { email } }', {}, bearer(token));
    expect(me.data).toEqual({ me: { email: 'kim@keys.example' } });
  };

  beforeAll(async () => {
    kms = await startKmsSim();
    keyId = kms.createKey();
    fleet = await startTestFederation({
      engine: 'pglite',
      overrides: {
        aaa: {
          AAA_VAULT_PROVIDER: 'aws-kms',
          AAA_KMS_ENDPOINT: kms.url,
          AAA_KMS_KEY_ID: keyId,
          AAA_KMS_ACCESS_KEY_ID: 'test-access-key',
          AAA_KMS_SECRET_ACCESS_KEY: 'test-secret-key',
        },
      },
    });
    const tenantId = await createTenant(fleet, 'Keys Inc', 'keys');
    member = await addMember(
      fleet,
      { id: tenantId, slug: 'keys' },
      { email: 'kim@keys.example', fullName: 'Kim Keys', roles: ['owner'] },
    );
  });

  afterAll(async () => {
    await fleet?.destroy();
    await kms?.stop();
  });

  it('makes no KMS call in steady traffic once keys are warm', async () => {
    await readsOwnData();
    const before = kmsCalls();
    for (let i = 0; i < 20; i++) await readsOwnData();
    expect(kmsCalls() - before).toBe(0);
  });

  it('fails new tenants clearly while KMS throttles, writing nothing, and serves cached keys', async () => {
    kms.faults.throttle('always');
    try {
      await createFails('throttled');
      await readsOwnData();
    } finally {
      kms.faults.clear();
    }
  });

  it('fails new tenants clearly while the KMS key is disabled', async () => {
    kms.disableKey(keyId);
    try {
      await createFails('disabled');
      await readsOwnData();
    } finally {
      kms.enableKey(keyId);
    }
  });

  it('keeps working on cached keys while KMS is down, and fails new tenants clearly', async () => {
    await kms.stop();
    try {
      await readsOwnData();
      await createFails('kms-down');
    } finally {
      await kms.start();
    }
    expect(
      (await fleet.asAdmin('mutation { createTenant(input: { name: "After", slug: "after" }) { id } }'))
        .errors,
    ).toBeUndefined();
  });

  it('re-wraps every tenant key when the key-encryption key rotates, without touching the data', async () => {
    const before = kms.calls().ReEncrypt ?? 0;
    const rotated = await fleet.asAdmin<{ rotateKeyEncryptionKey: { tenantKeysRewrapped: number } }>(
      'mutation { rotateKeyEncryptionKey { tenantKeysRewrapped } }',
    );
    expect(rotated.errors).toBeUndefined();
    const count = rotated.data!.rotateKeyEncryptionKey.tenantKeysRewrapped;
    expect(count).toBe((await tenantSlugs()).length);
    expect((kms.calls().ReEncrypt ?? 0) - before).toBe(count);
    // A restart empties the key cache: every key is unwrapped again from its new wrapping.
    await fleet.stopService('aaa');
    await fleet.startService('aaa');
    await readsOwnData();
    await eventually(async () =>
      (await allAuditEvents(fleet)).some((e) => e.type === 'key_encryption_key.rotated') ? true : undefined,
    );
  });
});
