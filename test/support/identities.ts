import { createHmac, randomBytes } from 'node:crypto';
import { login, type TestFederation, type TokenPairResult } from './test-federation.js';

export interface TestMember {
  userId: string;
  tenant: string;
  email: string;
  password: string;
}

/** Invites a member as the platform administrator and activates the account; returns its credentials. */
export async function addMember(
  fleet: TestFederation,
  tenant: { id: string; slug: string },
  person: { email: string; fullName: string; phone?: string; roles: string[] },
): Promise<TestMember> {
  const invited = await fleet.asAdmin<{ createMember: { user: { id: string }; activationCode: string } }>(
    `mutation($input: CreateMemberInput!) {
       createMember(input: $input) { user { id } activationCode }
     }`,
    { input: { tenantId: tenant.id, ...person } },
  );
  if (!invited.data) throw new Error(`could not invite ${person.email}: ${JSON.stringify(invited.errors)}`);
  const password = `Pw ${randomBytes(12).toString('base64url')}`;
  const activated = await fleet.graphql<{ activateAccount: boolean }>(
    'mutation($input: ActivateAccountInput!) { activateAccount(input: $input) }',
    {
      input: {
        tenant: tenant.slug,
        email: person.email,
        code: invited.data.createMember.activationCode,
        password,
      },
    },
  );
  if (!activated.data?.activateAccount)
    throw new Error(`could not activate: ${JSON.stringify(activated.errors)}`);
  return { userId: invited.data.createMember.user.id, tenant: tenant.slug, email: person.email, password };
}

/** Logs a member in through the gateway. */
export function signIn(
  fleet: TestFederation,
  member: TestMember,
  extra: { totp?: string; recoveryCode?: string } = {},
): Promise<TokenPairResult> {
  return login(fleet.graphql, {
    tenant: member.tenant,
    email: member.email,
    password: member.password,
    ...extra,
  });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * A TOTP code (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits), computed here independently of the
 * service's own implementation.
 */
export function totpCode(base32Secret: string, at = Date.now()): string {
  const key = decodeBase32(base32Secret);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const digest = createHmac('sha1', key).update(counter).digest();
  const offset = digest[digest.length - 1]! & 0x0f;
  const value = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

function decodeBase32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error('not base32');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}
