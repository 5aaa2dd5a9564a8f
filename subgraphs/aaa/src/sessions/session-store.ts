import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { issueAccessToken, type TokenKeyRing } from '@fleet/access-tokens';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import { NotFoundError, UnauthenticatedError, type Principal } from '@fleet/service-kit';
import { scopesOf } from '../access/roles.js';
import { newSecret, type SecretDigests } from '../credentials/secret-digests.js';
import type { AaaDatabase } from '../database/schema.js';

export type SessionRow = Selectable<AaaDatabase['session']>;

/** What a successful login or refresh hands the client. */
export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  sessionId: string;
  /** Set when the session may do only this (e.g. enrol a second factor). */
  restrictedTo: string[] | null;
}

export interface SessionOptions {
  tokenKeys: TokenKeyRing;
  digests: SecretDigests;
  accessTokenTtlSeconds: number;
  sessionTtlMs: number;
  refreshGraceMs: number;
  /** Wakes the outbox relay after a commit that recorded events. */
  onEvent: () => void;
}

const INVALID_REFRESH = 'Invalid refresh token';

/**
 * Sessions and their refresh tokens. A session is one family of refresh tokens: each use
 * rotates the token; presenting a spent token again revokes the whole family (it was stolen,
 * or the client is broken), except once, within a short grace, for the token replaced last.
 * Only HMAC digests of refresh tokens are stored.
 */
export class SessionStore {
  readonly #db: Kysely<AaaDatabase>;
  readonly #options: SessionOptions;

  constructor(db: Kysely<AaaDatabase>, options: SessionOptions) {
    this.#db = db;
    this.#options = options;
  }

  /** Opens a session inside the caller's transaction; returns its first refresh token. */
  async open(
    trx: Transaction<AaaDatabase>,
    input: { userId: string; tenantId: string; restrictedTo: string[] | null },
  ): Promise<{ session: SessionRow; refreshToken: string }> {
    const now = new Date();
    const session = await trx
      .insertInto('session')
      .values({
        id: randomUUID(),
        user_id: input.userId,
        tenant_id: input.tenantId,
        restricted_to: input.restrictedTo,
        generation: 1,
        refreshed_at: now,
        expires_at: new Date(now.getTime() + this.#options.sessionTtlMs),
        revoked_at: null,
        revoke_reason: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const refreshToken = await this.#newRefreshToken(trx, session.id, 1);
    return { session, refreshToken };
  }

  /** An access token for the session, with the user's roles as they are now. */
  async tokensFor(session: SessionRow, refreshToken: string): Promise<TokenPair> {
    let roles: string[] = [];
    let scopes: string[];
    if (session.restricted_to) {
      scopes = session.restricted_to;
    } else {
      const membership = await this.#db
        .selectFrom('membership')
        .select('roles')
        .where('tenant_id', '=', session.tenant_id)
        .where('user_id', '=', session.user_id)
        .executeTakeFirst();
      roles = membership?.roles ?? [];
      scopes = scopesOf(roles);
    }
    const issued = await issueAccessToken(
      this.#options.tokenKeys,
      { userId: session.user_id, tenantId: session.tenant_id, roles, scopes, sessionId: session.id },
      { ttlSeconds: this.#options.accessTokenTtlSeconds },
    );
    return {
      accessToken: issued.token,
      accessTokenExpiresAt: issued.expiresAt,
      refreshToken,
      sessionId: session.id,
      restrictedTo: session.restricted_to,
    };
  }

  /**
   * Exchanges a refresh token for a new pair. Concurrent refreshes of one session are serialised
   * on the session row, so reuse detection cannot be raced.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    if (refreshToken.length > 100 || !refreshToken.startsWith('rt_')) {
      throw new UnauthenticatedError(INVALID_REFRESH);
    }
    const digest = this.#options.digests.refreshToken(refreshToken);
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const token = await trx
        .selectFrom('refresh_token')
        .selectAll()
        .where('digest', '=', digest)
        .executeTakeFirst();
      if (!token) return { kind: 'unknown' as const };
      const session = await trx
        .selectFrom('session')
        .selectAll()
        .where('id', '=', token.session_id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const now = new Date();
      if (session.revoked_at || session.expires_at <= now) return { kind: 'ended' as const };
      const user = await trx
        .selectFrom('app_user')
        .select('status')
        .where('id', '=', session.user_id)
        .executeTakeFirstOrThrow();
      if (user.status !== 'active') {
        await this.#revokeInside(trx, session, 'user-inactive', { kind: 'anonymous' });
        return { kind: 'ended' as const };
      }
      const current = token.generation === session.generation && token.used_at === null;
      const graceRetry =
        token.generation === session.generation - 1 &&
        token.used_at !== null &&
        now.getTime() - token.used_at.getTime() <= this.#options.refreshGraceMs;
      if (!current && !graceRetry) {
        await this.#revokeInside(trx, session, 'refresh-token-reuse', { kind: 'anonymous' });
        return { kind: 'reused' as const };
      }
      if (current) {
        await trx.updateTable('refresh_token').set({ used_at: now }).where('digest', '=', digest).execute();
      }
      const generation = session.generation + 1;
      const next = await this.#newRefreshToken(trx, session.id, generation);
      const updated = await trx
        .updateTable('session')
        .set({ generation, refreshed_at: now })
        .where('id', '=', session.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'session',
        aggregateId: session.id,
        type: 'session.refreshed',
        tenantId: session.tenant_id,
        actor: { kind: 'user', id: session.user_id },
        payload: { sessionId: session.id, userId: session.user_id, generation, graceRetry },
      });
      return { kind: 'rotated' as const, session: updated, refreshToken: next };
    });
    this.#options.onEvent();
    if (outcome.kind !== 'rotated') throw new UnauthenticatedError(INVALID_REFRESH);
    return this.tokensFor(outcome.session, outcome.refreshToken);
  }

  /** Revokes one session of the caller (or, for a tenant admin, of a member: checked by the caller). */
  async revoke(sessionId: string, reason: string, principal: Principal): Promise<SessionRow> {
    const revoked = await this.#db.transaction().execute(async (trx) => {
      const session = await trx
        .selectFrom('session')
        .selectAll()
        .where('id', '=', sessionId)
        .forUpdate()
        .executeTakeFirst();
      if (!session) throw new NotFoundError('Session');
      if (session.revoked_at) return session;
      return this.#revokeInside(trx, session, reason, principal);
    });
    this.#options.onEvent();
    return revoked;
  }

  /** Revokes every live session of a user, inside the caller's transaction. */
  async revokeAllOf(
    trx: Transaction<AaaDatabase>,
    userId: string,
    reason: string,
    principal: Principal,
    except?: string,
  ): Promise<number> {
    let query = trx
      .selectFrom('session')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null);
    if (except) query = query.where('id', '!=', except);
    const sessions = await query.forUpdate().execute();
    for (const session of sessions) await this.#revokeInside(trx, session, reason, principal);
    return sessions.length;
  }

  async get(sessionId: string): Promise<SessionRow | undefined> {
    return this.#db.selectFrom('session').selectAll().where('id', '=', sessionId).executeTakeFirst();
  }

  /** The user's live sessions, newest first. */
  async listOf(userId: string): Promise<SessionRow[]> {
    return this.#db
      .selectFrom('session')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date())
      .orderBy('created_at', 'desc')
      .limit(200)
      .execute();
  }

  /**
   * Sessions revoked while access tokens issued for them may still be valid: the gateway polls
   * this list, so a revoked session stops working within seconds without asking aaa per request.
   */
  async recentlyRevoked(): Promise<string[]> {
    const since = new Date(Date.now() - (this.#options.accessTokenTtlSeconds + 120) * 1000);
    const rows = await this.#db
      .selectFrom('session')
      .select('id')
      .where('revoked_at', '>', since)
      .limit(100_000)
      .execute();
    return rows.map((row) => row.id);
  }

  async #newRefreshToken(
    trx: Transaction<AaaDatabase>,
    sessionId: string,
    generation: number,
  ): Promise<string> {
    const token = newSecret('rt_');
    await trx
      .insertInto('refresh_token')
      .values({
        digest: this.#options.digests.refreshToken(token),
        session_id: sessionId,
        generation,
        used_at: null,
      })
      .execute();
    return token;
  }

  async #revokeInside(
    trx: Transaction<AaaDatabase>,
    session: SessionRow,
    reason: string,
    principal: Principal,
  ): Promise<SessionRow> {
    const revoked = await trx
      .updateTable('session')
      .set({ revoked_at: new Date(), revoke_reason: reason })
      .where('id', '=', session.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'session',
      aggregateId: session.id,
      type: reason === 'refresh-token-reuse' ? 'session.reuse_detected' : 'session.revoked',
      tenantId: session.tenant_id,
      actor: actorOf(principal),
      payload: { sessionId: session.id, userId: session.user_id, reason },
    });
    return revoked;
  }
}
