import { allow, rule, type IRules } from 'graphql-shield';
import {
  accessRules,
  denyByDefault,
  hasScopeIn,
  isPlatformAdmin,
  isPlatformReader,
  type SignedRequest,
} from '@fleet/service-kit';
import { canSeeEvent } from './policy.js';

/** What the rules read from the context: the request the gateway signed, with its principal. */
interface RuleContext {
  request: SignedRequest;
}

const { isSignedIn } = accessRules((context: RuleContext) => context.request.principal);

/** An event as the resolvers shape it; only its tenant matters here. */
interface EventParent {
  tenantId?: string | null;
}

/** The whole log and its chain span every tenant: for platform operators only. */
const platformReader = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) =>
  isPlatformReader(ctx.request.principal),
);

/** Platform administrators: they set retention and enforce it. */
const platformAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) =>
  isPlatformAdmin(ctx.request.principal),
);

/**
 * Readers of some audit log: platform readers, or holders of audit:read in their own tenant. The
 * resolvers then answer for the caller's own tenant only (auditTenantOf).
 */
const auditReader = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) => {
  const principal = ctx.request.principal;
  if (isPlatformReader(principal)) return true;
  return (
    principal.kind !== 'anonymous' &&
    principal.tenantId !== null &&
    hasScopeIn(principal, 'audit:read', principal.tenantId)
  );
});

/** A seal or retention answer belongs to a tenant: checked against it, whichever path reached it. */
const tenantRecordVisible = rule({ cache: 'no_cache' })((parent: EventParent, _args, ctx: RuleContext) =>
  canSeeEvent(ctx.request.principal, parent.tenantId),
);

/** Every event is checked against its own tenant, whichever path reached it. */
const eventVisible = rule({ cache: 'no_cache' })((parent: EventParent, _args, ctx: RuleContext) =>
  canSeeEvent(ctx.request.principal, parent.tenantId),
);

/**
 * The rule of every type and root field of the audit schema. Exported apart from the shield so
 * that a test can check that nothing in the schema is left to the fallback by accident.
 */
export const rules: IRules = {
  Query: {
    _service: allow,
    _entities: allow,
    auditEvents: platformReader,
    verifyAuditChain: platformReader,
    verifyAuditLog: platformReader,
    auditSigningKeys: isSignedIn,
    auditExport: auditReader,
    auditRetention: auditReader,
    auditSeals: auditReader,
  },
  Mutation: {
    setAuditRetention: platformAdmin,
    enforceAuditRetention: platformAdmin,
  },
  _Service: allow,
  AuditEvent: { '*': eventVisible },
  // An actor is reached only through its event, which was checked already.
  AuditActor: isSignedIn,
  ChainVerification: platformReader,
  AuditLogVerification: platformReader,
  // Public keys are for everyone who may verify.
  AuditSigningKey: isSignedIn,
  // An export's tenant was decided by its resolver (auditTenantOf); checked again here.
  AuditExport: { '*': tenantRecordVisible },
  AuditRetention: { '*': tenantRecordVisible },
  AuditSeal: { '*': tenantRecordVisible },
  Device: {
    // Only the entity's key: it tells nothing the caller did not send.
    id: isSignedIn,
    // The resolver keeps only the events the caller may see (see canSeeEvent).
    history: isSignedIn,
  },
};

/**
 * The audit subgraph's authorization, as graphql-shield rules over its schema: everything not
 * listed here is denied. The gateway decides first; this is the subgraph's own decision, never
 * skipped.
 */
export const permissions = denyByDefault(rules);
