import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  hasScopeIn,
  NotFoundError,
  type Principal,
} from '@fleet/service-kit';
import type { DevicesDatabase } from '../database/schema.js';
import { isUuid, validateDeviceDetails } from '../registry/device-input.js';
import { renderSpec, validateSpec, type DesiredMenu, type TemplateSpec } from './template-spec.js';
import { resolveValues, validateDeclarations, type VariableDeclaration } from './template-variables.js';

export interface TemplateRow {
  id: string;
  tenantId: string;
  name: string;
  createdAt: Date;
}

export interface TemplateVersion {
  version: number;
  spec: TemplateSpec;
  variables: VariableDeclaration[];
  createdAt: Date;
}

/**
 * A tenant's templates: a desired state per menu and the variables each device fills in.
 * A template is never edited in place: each change is a new version, so what a device was
 * provisioned with stays known.
 */
export class TemplateStore {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #onEvent: () => void;

  constructor(db: Kysely<DevicesDatabase>, onEvent: () => void) {
    this.#db = db;
    this.#onEvent = onEvent;
  }

  async create(
    input: { tenantId: string; name: string; spec: unknown; variables?: unknown },
    principal: Principal,
  ): Promise<TemplateRow> {
    const { tenantId, name } = validateDeviceDetails({ tenantId: input.tenantId, name: input.name });
    const variables = validateDeclarations(input.variables ?? []);
    const spec = validateSpec(input.spec, variables);
    const id = randomUUID();
    const row = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('template')
        .values({ id, tenant_id: tenantId, name })
        .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!created)
        throw new ConflictError(`A template named "${name}" exists already in this tenant`, 'name');
      await this.#addVersion(trx, created, 1, spec, variables, principal, 'template.created');
      return created;
    });
    this.#onEvent();
    return toTemplate(row);
  }

  /** A new version of a template the principal may change. */
  async update(
    id: string,
    input: { spec: unknown; variables?: unknown },
    principal: Principal,
  ): Promise<TemplateRow> {
    const template = await this.#visible(id, principal, 'devices:write');
    const variables = validateDeclarations(input.variables ?? []);
    const spec = validateSpec(input.spec, variables);
    await this.#db.transaction().execute(async (trx) => {
      // Locks the template: concurrent updates number their versions one after the other.
      const locked = await trx
        .selectFrom('template')
        .select('id')
        .where('id', '=', template.id)
        .forUpdate()
        .executeTakeFirst();
      if (!locked) throw new NotFoundError('Template');
      const latest = await trx
        .selectFrom('template_version')
        .select((eb) => eb.fn.max('version').as('version'))
        .where('template_id', '=', template.id)
        .executeTakeFirst();
      const row = { id: template.id, tenant_id: template.tenantId, name: template.name };
      await this.#addVersion(
        trx,
        row,
        (latest?.version ?? 0) + 1,
        spec,
        variables,
        principal,
        'template.version-added',
      );
    });
    this.#onEvent();
    return template;
  }

  async get(id: string, principal: Principal): Promise<TemplateRow | undefined> {
    try {
      return await this.#visible(id, principal, 'devices:read');
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** A template by id, for objects whose access was checked already (a job's template). */
  async byId(id: string): Promise<TemplateRow | undefined> {
    const row = await this.#db.selectFrom('template').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toTemplate(row) : undefined;
  }

  async listByTenant(tenantId: string): Promise<TemplateRow[]> {
    if (!isUuid(tenantId)) return [];
    const rows = await this.#db
      .selectFrom('template')
      .selectAll()
      .where('tenant_id', '=', tenantId.toLowerCase())
      .orderBy('name')
      .execute();
    return rows.map(toTemplate);
  }

  async versions(templateId: string): Promise<TemplateVersion[]> {
    const rows = await this.#db
      .selectFrom('template_version')
      .selectAll()
      .where('template_id', '=', templateId)
      .orderBy('version')
      .execute();
    return rows.map((row) => ({
      version: row.version,
      spec: row.spec as TemplateSpec,
      variables: row.variables as VariableDeclaration[],
      createdAt: row.created_at,
    }));
  }

  /** The desired state a version gives a device with these values (the latest version by default). */
  async render(
    id: string,
    version: number | null | undefined,
    values: unknown,
    principal: Principal,
  ): Promise<{ version: number; desired: DesiredMenu[] }> {
    const template = await this.#visible(id, principal, 'devices:read');
    const versions = await this.versions(template.id);
    const chosen =
      version == null ? versions.at(-1) : versions.find((candidate) => candidate.version === version);
    if (!chosen)
      throw new BadUserInputError(`template ${template.name} has no version ${version}`, 'version');
    return {
      version: chosen.version,
      desired: renderSpec(chosen.spec, resolveValues(chosen.variables, values)),
    };
  }

  /** A version's desired state with these values, for the jobs (which checked access when queued). */
  async renderVersion(templateId: string, version: number, values: unknown): Promise<DesiredMenu[]> {
    const chosen = (await this.versions(templateId)).find((candidate) => candidate.version === version);
    if (!chosen) throw new NotFoundError('Template version');
    return renderSpec(chosen.spec, resolveValues(chosen.variables, values));
  }

  /** A template the principal holds the scope in; another tenant's answers as an unknown one. */
  async #visible(id: string, principal: Principal, scope: string): Promise<TemplateRow> {
    if (!isUuid(id)) throw new NotFoundError('Template');
    const row = await this.#db
      .selectFrom('template')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    if (!row || !hasScopeIn(principal, scope, row.tenant_id)) throw new NotFoundError('Template');
    return toTemplate(row);
  }

  async #addVersion(
    trx: Transaction<DevicesDatabase>,
    template: { id: string; tenant_id: string; name: string },
    version: number,
    spec: TemplateSpec,
    variables: VariableDeclaration[],
    principal: Principal,
    type: string,
  ): Promise<void> {
    const actor = actorOf(principal);
    await trx
      .insertInto('template_version')
      .values({
        template_id: template.id,
        version,
        spec: JSON.stringify(spec),
        variables: JSON.stringify(variables),
        actor_kind: actor.kind,
        actor_id: actor.id,
      })
      .execute();
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'template',
      aggregateId: template.id,
      type,
      tenantId: template.tenant_id,
      actor,
      payload: {
        id: template.id,
        tenantId: template.tenant_id,
        name: template.name,
        version,
        spec,
        variables,
      },
    });
  }
}

function toTemplate(row: { id: string; tenant_id: string; name: string; created_at: Date }): TemplateRow {
  return { id: row.id, tenantId: row.tenant_id, name: row.name, createdAt: row.created_at };
}
