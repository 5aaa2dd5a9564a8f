import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANONYMOUS, type Logger } from '@fleet/service-kit';
import type { MemberDirectory } from '../members/member-directory.js';
import { PLATFORM_SLUG, type TenantDirectory } from '../tenants/tenant-directory.js';

/** What the first platform administrator needs to activate the account, shown once. */
export interface InitialAdmin {
  type: 'initial-admin';
  tenant: string;
  email: string;
  activationCode: string;
  activationExpiresAt: string;
}

/**
 * On a database without an active platform administrator: creates the platform tenant and its
 * first administrator (or, if that person never activated, a fresh code), and hands the
 * one-time activation code to the operator: to the launcher over IPC when there is one (it
 * prints it once), otherwise into a file readable only by the service's user. The code never
 * reaches a log.
 */
export async function ensureFirstAdmin(parts: {
  tenants: TenantDirectory;
  members: MemberDirectory;
  email: string;
  dataDir: string;
  logger: Logger;
}): Promise<void> {
  const { tenants, members, logger } = parts;
  const platform =
    (await tenants.platformTenant()) ??
    (await tenants.createTenant({ name: 'Platform', slug: PLATFORM_SLUG }, ANONYMOUS, 'platform'));
  const memberships = await members.membersOf(platform.id);
  const admins = memberships.filter((m) => m.roles.includes('platform-admin'));
  let invitation: { activationCode: string; activationExpiresAt: Date; email: string } | undefined;
  for (const admin of admins) {
    const user = await members.getUser(admin.user_id);
    if (user?.status === 'active') return;
    if (user?.status === 'invited' && !invitation) {
      const profile = await members.profileOf(user);
      const issued = await members.reissueActivation(user.id, ANONYMOUS);
      invitation = { ...issued, email: profile?.email ?? parts.email };
    }
  }
  if (!invitation) {
    const created = await members.createMember(
      {
        tenantId: platform.id,
        email: parts.email,
        fullName: 'Platform administrator',
        roles: ['platform-admin'],
      },
      ANONYMOUS,
      { platformRolesAllowed: true },
    );
    invitation = { ...created, email: parts.email };
  }
  const message: InitialAdmin = {
    type: 'initial-admin',
    tenant: PLATFORM_SLUG,
    email: invitation.email,
    activationCode: invitation.activationCode,
    activationExpiresAt: invitation.activationExpiresAt.toISOString(),
  };
  if (process.send) {
    process.send(message);
    logger.info('the first platform administrator awaits activation; the launcher shows its code');
    return;
  }
  mkdirSync(parts.dataDir, { recursive: true, mode: 0o700 });
  const file = join(parts.dataDir, 'initial-admin.json');
  writeFileSync(file, `${JSON.stringify(message, null, 2)}\n`, { mode: 0o600 });
  logger.warn(
    { file },
    'the first platform administrator awaits activation; its one-time code is in this file',
  );
}
