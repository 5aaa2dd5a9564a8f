import { allow, deny, rule, shield, type IRules } from 'graphql-shield';
import { ForbiddenError, hasScopeIn, type SignedRequest } from '@fleet/service-kit';

/** What the rules read from the context: the request the gateway signed, with its principal. */
interface RuleContext {
  request: SignedRequest;
}

/** A device as the resolvers shape it; only its tenant matters here. */
interface DeviceParent {
  tenant?: { id?: unknown };
}

const isSignedIn = rule({ cache: 'contextual' })(
  (_parent, _args, ctx: RuleContext) => ctx.request.principal.kind !== 'anonymous',
);

/** The scope in the tenant an argument names. */
function scopeInArgument(scope: string, tenantOf: (args: Record<string, unknown>) => unknown) {
  return rule({ cache: 'no_cache' })((_parent, args: Record<string, unknown>, ctx: RuleContext) => {
    const tenantId = tenantOf(args);
    return typeof tenantId === 'string' && hasScopeIn(ctx.request.principal, scope, tenantId);
  });
}

const tenantIdArg = (args: Record<string, unknown>) => args.tenantId;
const inputTenantArg = (args: Record<string, unknown>) =>
  (args.input as { tenantId?: unknown } | undefined)?.tenantId;

/** Every device is checked against its own tenant, whichever path reached it. */
const deviceVisible = rule({ cache: 'no_cache' })((parent: DeviceParent, _args, ctx: RuleContext) => {
  const tenantId = parent.tenant?.id;
  return typeof tenantId === 'string' && hasScopeIn(ctx.request.principal, 'devices:read', tenantId);
});

/** Every template is checked against its own tenant, whichever path reached it. */
const templateVisible = rule({ cache: 'no_cache' })((
  parent: { tenant?: { id?: unknown } },
  _args,
  ctx: RuleContext,
) => {
  const tenantId = parent.tenant?.id;
  return typeof tenantId === 'string' && hasScopeIn(ctx.request.principal, 'devices:read', tenantId);
});

/** Every job is checked against its own tenant. */
const jobVisible = rule({ cache: 'no_cache' })(
  (parent: { tenantId?: unknown }, _args, ctx: RuleContext) =>
    typeof parent.tenantId === 'string' && hasScopeIn(ctx.request.principal, 'devices:read', parent.tenantId),
);

const tenantDevicesVisible = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: RuleContext) =>
  hasScopeIn(ctx.request.principal, 'devices:read', parent.id),
);

/**
 * The rule of every type and root field of the devices schema. Exported apart from the shield
 * so that a test can check that nothing in the schema is left to the fallback by accident.
 */
export const rules: IRules = {
  Query: {
    _service: allow,
    _entities: allow,
    // The device's tenant is known only once it is read: the Device rule decides.
    device: isSignedIn,
    devices: scopeInArgument('devices:read', tenantIdArg),
    templates: scopeInArgument('devices:read', tenantIdArg),
    // The template's tenant is known only once it is read: the store checks the scope there.
    template: isSignedIn,
    renderTemplate: isSignedIn,
    planProvisioning: isSignedIn,
    // A job's tenant is known only once it is read: the job store checks the scope there.
    job: isSignedIn,
    jobs: isSignedIn,
  },
  Mutation: {
    createDevice: scopeInArgument('devices:write', inputTenantArg),
    // The device's tenant is known only once it is read: the registry checks devices:write there.
    rotateDeviceCredentials: isSignedIn,
    removeDevice: isSignedIn,
    createEnrollment: scopeInArgument('devices:write', inputTenantArg),
    createTemplate: scopeInArgument('devices:write', inputTenantArg),
    updateTemplate: isSignedIn,
    applyProvisioning: isSignedIn,
    retryJob: isSignedIn,
    cancelJob: isSignedIn,
  },
  _Service: allow,
  Device: { '*': deviceVisible },
  DeviceTls: isSignedIn,
  // Returned only to whoever created it, who holds devices:write in its tenant.
  Enrollment: isSignedIn,
  Template: { '*': templateVisible },
  TemplateVersion: isSignedIn,
  TemplateVariable: isSignedIn,
  DesiredMenu: isSignedIn,
  // Built only for a device and a template the caller may read (checked where they are read).
  ProvisioningPlan: isSignedIn,
  PlannedChange: isSignedIn,
  ProvisioningJob: { '*': jobVisible },
  JobFault: isSignedIn,
  Tenant: {
    // Only the entity's key: it tells nothing the caller did not send.
    id: isSignedIn,
    devices: tenantDevicesVisible,
  },
};

/**
 * The devices subgraph's authorization, as graphql-shield rules over its schema: everything not
 * listed here is denied. The gateway decides first; this is the subgraph's own decision, never
 * skipped.
 */
export const permissions = shield(rules, {
  fallbackRule: deny,
  fallbackError: () => new ForbiddenError(),
  allowExternalErrors: true,
  debug: false,
});
