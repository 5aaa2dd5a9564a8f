import { allow, rule, type IRules } from 'graphql-shield';
import {
  accessRules,
  denyByDefault,
  isPlatformAdmin,
  isPlatformReader,
  type SignedRequest,
} from '@fleet/service-kit';
import { canSeeEvent, eventScopeOf } from './policy.js';

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

/** Holders of audit:restore (in their own tenant; platform administrators hold it everywhere). */
const restorer = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) => {
  const principal = ctx.request.principal;
  return (
    isPlatformAdmin(principal) ||
    (principal.kind !== 'anonymous' && principal.scopes.includes('audit:restore'))
  );
});

/** Platform administrators: they set retention and enforce it. */
const platformAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) =>
  isPlatformAdmin(ctx.request.principal),
);

/** Anyone who may read some events: platform readers, and anyone with audit:read in their tenant. */
const auditReader = rule({ cache: 'contextual' })(
  (_parent, _args, ctx: RuleContext) => eventScopeOf(ctx.request.principal) !== null,
);

/**
 * The log's list, for an audit reader whose filter stays in its scope: a tenant's auditor naming
 * another tenant is refused rather than answered with an empty page, so that an empty page always
 * means that nothing matched.
 */
const auditReaderOfFilter = rule({ cache: 'no_cache' })((
  _parent,
  args: { filter?: { tenantId?: unknown } | null },
  ctx: RuleContext,
) => {
  const scope = eventScopeOf(ctx.request.principal);
  const tenantId = args.filter?.tenantId;
  if (!scope) return false;
  return scope.kind === 'all' || tenantId === null || tenantId === undefined || tenantId === scope.tenantId;
});

/** Every event (and state of an entity) is checked against its own tenant, whichever path reached it. */
const eventVisible = rule({ cache: 'no_cache' })((parent: EventParent, _args, ctx: RuleContext) =>
  canSeeEvent(ctx.request.principal, parent.tenantId),
);

/** A diff shows both states: the caller must be able to see each of them. */
const diffVisible = rule({ cache: 'no_cache' })(
  (parent: { before: EventParent | null; after: EventParent | null }, _args, ctx: RuleContext) =>
    [parent.before, parent.after].every(
      (state) => state === null || canSeeEvent(ctx.request.principal, state.tenantId),
    ),
);

/**
 * The rule of every type and root field of the audit schema. Exported apart from the shield so
 * that a test can check that nothing in the schema is left to the fallback by accident.
 */
export const rules: IRules = {
  Query: {
    _service: allow,
    _entities: allow,
    auditEvents: auditReaderOfFilter,
    entityHistory: auditReader,
    entityAt: auditReader,
    entityDiff: auditReader,
    verifyAuditLog: platformReader,
    auditSigningKeys: isSignedIn,
    auditExport: auditReader,
    auditRetention: auditReader,
    auditSeals: auditReader,
  },
  Mutation: {
    // The resolver checks audit:restore in the entity's tenant, once it knows the tenant.
    restoreEntity: restorer,
    setAuditRetention: platformAdmin,
    enforceAuditRetention: platformAdmin,
  },
  _Service: allow,
  AuditEvent: { '*': eventVisible },
  // An actor is reached only through its event, which was checked already.
  AuditActor: isSignedIn,
  // Pages are reached only through a checked list, and every event in them is checked itself.
  AuditEventConnection: isSignedIn,
  AuditEventEdge: isSignedIn,
  PageInfo: isSignedIn,
  // A state shows what its last event recorded, and carries that event's tenant: checked alike.
  EntityState: { '*': eventVisible },
  EntityDiff: { '*': diffVisible },
  // A change is reached only through its diff, which was checked already.
  FieldChange: isSignedIn,
  AuditLogVerification: platformReader,
  // Public keys are for everyone who may verify.
  AuditSigningKey: isSignedIn,
  // An export's, a retention's or a seal's tenant was decided by its resolver (auditTenantOf):
  // checked again here, as an event of that tenant would be.
  AuditExport: { '*': eventVisible },
  AuditRetention: { '*': eventVisible },
  AuditSeal: { '*': eventVisible },
  RestoredEntity: { '*': eventVisible },
  Device: {
    // Only the entity's key: it tells nothing the caller did not send.
    id: isSignedIn,
    // The resolver reads only the events of the caller's scope (see eventScopeOf).
    history: isSignedIn,
  },
};

/**
 * The audit subgraph's authorization, as graphql-shield rules over its schema: everything not
 * listed here is denied. The gateway decides first; this is the subgraph's own decision, never
 * skipped.
 */
export const permissions = denyByDefault(rules);
