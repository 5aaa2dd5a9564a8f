import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import { BadUserInputError, NotFoundError, type Principal } from '@fleet/service-kit';
import type { CredentialVault } from '../credentials/credential-vault.js';
import type { DevicesDatabase } from '../database/schema.js';
import type { DeviceRegistry, DeviceRow } from '../registry/device-registry.js';
import { fingerprintNotation, validateDeviceDetails } from '../registry/device-input.js';
import type { RouterNetworks } from '../routers/router-networks.js';
import { probeRouter, type ProbeTimeouts } from '../routers/router-probe.js';
import { enrollmentScript } from './routeros-script.js';

export interface CreateEnrollmentInput {
  tenantId: string;
  name: string;
  site?: string | null;
  tags?: readonly string[] | null;
  port?: number | null;
  expiresInMinutes?: number | null;
}

/** What a router sends to claim its enrollment (through the gateway's `/enroll`). */
export interface EnrollmentClaim {
  token: string;
  port: number;
  /** SHA-256 of the certificate the script made for api-ssl, as RouterOS prints it. */
  fingerprint: string;
}

export interface EnrollmentsOptions {
  registry: DeviceRegistry;
  vault: CredentialVault;
  networks: RouterNetworks;
  timeouts: ProbeTimeouts;
  /** Where routers claim their enrollment: the gateway's public `/enroll`. */
  enrollUrl: string;
  onEvent: () => void;
}

const TOKEN = /^enr_[A-Za-z0-9_-]{43}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/i;
const MIN_MINUTES = 5;
const MAX_MINUTES = 7 * 24 * 60;

/**
 * Zero-touch (pull) enrollment. `create` makes a one-time token and the script that enrolls a
 * router: it creates a dedicated API user with a password made here for this router alone,
 * enables api-ssl on a new self-signed certificate and sends the token and that certificate's
 * fingerprint to the platform. `claim` spends the token once: the platform connects back to
 * the address the claim came from, pinned to that fingerprint, logs in with the user the script
 * created, and stores the device in the tenant the token was made for.
 */
export class Enrollments {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #options: EnrollmentsOptions;

  constructor(db: Kysely<DevicesDatabase>, options: EnrollmentsOptions) {
    this.#db = db;
    this.#options = options;
  }

  async create(
    input: CreateEnrollmentInput,
    principal: Principal,
  ): Promise<{ id: string; name: string; expiresAt: Date; token: string; script: string }> {
    const details = validateDeviceDetails(input);
    const port = input.port ?? 8729;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new BadUserInputError('port must be between 1 and 65535', 'port');
    }
    const minutes = input.expiresInMinutes ?? 60;
    if (!Number.isInteger(minutes) || minutes < MIN_MINUTES || minutes > MAX_MINUTES) {
      throw new BadUserInputError(
        `expiresInMinutes must be between ${MIN_MINUTES} and ${MAX_MINUTES}`,
        'expiresInMinutes',
      );
    }
    await this.#options.registry.checkRoom(details.tenantId);
    const id = randomUUID();
    const token = `enr_${randomBytes(32).toString('base64url')}`;
    const credentials = {
      username: `fleet-${randomBytes(4).toString('hex')}`,
      password: randomBytes(24).toString('base64url'),
    };
    const sealed = await this.#options.vault.seal(details.tenantId, id, credentials);
    const expiresAt = new Date(Date.now() + minutes * 60_000);
    const actor = actorOf(principal);
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('enrollment')
        .values({
          id,
          tenant_id: details.tenantId,
          name: details.name,
          site: details.site,
          tags: details.tags,
          port,
          credentials: sealed.sealed,
          credentials_key_version: sealed.keyVersion,
          token_digest: digestOf(token),
          expires_at: expiresAt,
          actor_kind: actor.kind,
          actor_id: actor.id,
        })
        .execute();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'enrollment',
        aggregateId: id,
        type: 'enrollment.created',
        tenantId: details.tenantId,
        actor,
        payload: {
          id,
          tenantId: details.tenantId,
          name: details.name,
          port,
          expiresAt: expiresAt.toISOString(),
        },
      });
    });
    this.#options.onEvent();
    const script = enrollmentScript({
      deviceName: details.name,
      ...credentials,
      port,
      token,
      enrollUrl: this.#options.enrollUrl,
      expiresAt,
    });
    return { id, name: details.name, expiresAt, token, script };
  }

  /**
   * A router claims its enrollment from `address` (the client address the gateway saw). The
   * router is reached before the token is spent, so a claim sent before api-ssl is up can be
   * sent again; the token is spent in the transaction that stores the device, so it is spent
   * once, whatever the race.
   */
  async claim(claim: EnrollmentClaim, address: string): Promise<DeviceRow> {
    if (typeof claim.token !== 'string' || !TOKEN.test(claim.token)) throw unknownToken();
    if (!Number.isInteger(claim.port) || claim.port < 1 || claim.port > 65535) {
      throw new BadUserInputError('port must be between 1 and 65535', 'port');
    }
    if (typeof claim.fingerprint !== 'string' || !FINGERPRINT.test(claim.fingerprint.replace(/:/g, ''))) {
      throw new BadUserInputError(
        'fingerprint must be the SHA-256 of the api-ssl certificate',
        'fingerprint',
      );
    }
    const digest = digestOf(claim.token);
    const enrollment = await this.#db
      .selectFrom('enrollment')
      .selectAll()
      .where('token_digest', '=', digest)
      .where('claimed_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirst();
    if (!enrollment) throw unknownToken();
    const credentials = await this.#options.vault.open(enrollment.tenant_id, enrollment.id, {
      sealed: Buffer.from(enrollment.credentials),
      keyVersion: enrollment.credentials_key_version,
    });
    const fingerprint256 = fingerprintNotation(claim.fingerprint);
    const tls = { mode: 'pinned' as const, fingerprint256 };
    const reachable = await this.#options.networks.addressOf(address);
    const facts = await probeRouter(
      { name: enrollment.name, address: reachable, host: reachable, port: claim.port, tls },
      credentials,
      this.#options.timeouts,
    );
    return this.#options.registry.add(
      {
        tenantId: enrollment.tenant_id,
        name: enrollment.name,
        host: reachable,
        port: claim.port,
        credentials,
        tls,
        site: enrollment.site,
        tags: enrollment.tags,
        facts,
      },
      { kind: enrollment.actor_kind as 'user' | 'apiKey', id: enrollment.actor_id },
      async (trx, deviceId) => {
        const spent = await trx
          .updateTable('enrollment')
          .set({ claimed_at: sql<Date>`now()`, device_id: deviceId })
          .where('id', '=', enrollment.id)
          .where('claimed_at', 'is', null)
          .returning('id')
          .executeTakeFirst();
        if (!spent) throw unknownToken();
      },
    );
  }
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Unknown, spent and expired tokens get the same answer. */
function unknownToken(): NotFoundError {
  return new NotFoundError('Enrollment token');
}
