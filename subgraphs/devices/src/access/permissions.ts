import { allow, type IRules } from 'graphql-shield';
import {
  accessRules,
  denyByDefault,
  inputTenantArgument,
  tenantIdArgument,
  type SignedRequest,
} from '@fleet/service-kit';

/** The rules read the principal from the request the gateway signed. */
const { isSignedIn, scopeInArgument, scopeInParent } = accessRules(
  (context: { request: SignedRequest }) => context.request.principal,
);

/** Devices and templates name their tenant as `tenant { id }`; jobs as `tenantId`. */
const ownTenant = (parent: { tenant?: { id?: unknown } }) => parent.tenant?.id;

/** Every device and template is checked against its own tenant, whichever path reached it. */
const visibleInItsTenant = scopeInParent('devices:read', ownTenant);
const jobVisible = scopeInParent('devices:read', (parent: { tenantId?: unknown }) => parent.tenantId);
/** Statuses and job steps carry their tenant, checked on every event a subscriber receives. */
const statusVisible = scopeInParent('devices:read', (parent: { tenantId?: unknown }) => parent.tenantId);
/** Backups and drift carry their device's tenant as `tenantId`, as jobs do: the same rule. */
const backupVisible = jobVisible;
const tenantDevicesVisible = scopeInParent('devices:read', (parent: { id: string }) => parent.id);

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
    devices: scopeInArgument('devices:read', tenantIdArgument),
    templates: scopeInArgument('devices:read', tenantIdArgument),
    // The template's tenant is known only once it is read: the store checks the scope there.
    template: isSignedIn,
    renderTemplate: isSignedIn,
    planProvisioning: isSignedIn,
    // A job's tenant is known only once it is read: the job store checks the scope there.
    job: isSignedIn,
    jobs: isSignedIn,
    // A rollout's tenant is known only once it is read: the rollout store checks the scope there.
    rollout: isSignedIn,
    rollouts: scopeInArgument('devices:read', tenantIdArgument),
    // A backup's tenant is known only once it is read: the backups check the scope there.
    backup: isSignedIn,
    backupDiff: isSignedIn,
  },
  Mutation: {
    createDevice: scopeInArgument('devices:write', inputTenantArgument),
    // The device's tenant is known only once it is read: the registry checks devices:write there.
    updateDevice: isSignedIn,
    rotateDeviceCredentials: isSignedIn,
    removeDevice: isSignedIn,
    createEnrollment: scopeInArgument('devices:write', inputTenantArgument),
    createTemplate: scopeInArgument('devices:write', inputTenantArgument),
    updateTemplate: isSignedIn,
    applyProvisioning: isSignedIn,
    retryJob: isSignedIn,
    cancelJob: isSignedIn,
    applyProvisioningBulk: scopeInArgument('devices:write', inputTenantArgument),
    // A rollout's tenant is known only once it is read: the rollout store checks devices:write there.
    cancelRollout: isSignedIn,
    resumeRollout: isSignedIn,
    // The device's tenant is known only once it is read: devices:write is checked there.
    backupDevice: isSignedIn,
    checkDrift: isSignedIn,
  },
  Subscription: {
    // Either argument may name the scope: the live status checks it when the subscription
    // starts, and the rules of DeviceStatus and JobProgress check each event again.
    deviceStatusChanged: isSignedIn,
    jobProgress: isSignedIn,
  },
  _Service: allow,
  Device: { '*': visibleInItsTenant },
  DeviceTls: isSignedIn,
  // Returned only to whoever created it, who holds devices:write in its tenant.
  Enrollment: isSignedIn,
  Template: { '*': visibleInItsTenant },
  TemplateVersion: isSignedIn,
  TemplateVariable: isSignedIn,
  DesiredMenu: isSignedIn,
  // Built only for a device and a template the caller may read (checked where they are read).
  ProvisioningPlan: isSignedIn,
  PlannedChange: isSignedIn,
  ProvisioningJob: { '*': jobVisible },
  JobFault: isSignedIn,
  DeviceStatus: { '*': statusVisible },
  InterfaceStatus: isSignedIn,
  JobProgress: { '*': statusVisible },
  Rollout: { '*': visibleInItsTenant },
  // Reached only through a rollout, checked against its tenant.
  RolloutPolicy: isSignedIn,
  RolloutStage: isSignedIn,
  RolloutCounts: isSignedIn,
  DeviceBackup: { '*': backupVisible },
  // Parts of a backup or of a diff of two, each read through a backup the caller may read.
  BackupMenu: isSignedIn,
  BackupDiff: isSignedIn,
  MenuDiff: isSignedIn,
  ItemChange: isSignedIn,
  ItemMove: isSignedIn,
  DeviceDrift: { '*': backupVisible },
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
export const permissions = denyByDefault(rules);
