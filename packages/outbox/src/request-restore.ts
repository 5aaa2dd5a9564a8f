import { encodePrincipal, signedPost, type MutualTls, type Principal } from '@fleet/service-kit';
import {
  RESTORE_CALLER,
  RESTORE_PATH,
  validateRestoreResult,
  type RestoreRequest,
  type RestoreResult,
} from './restore-contract.js';

export interface RequestRestoreOptions {
  /** The service that owns the entity: the audience of the call. */
  owner: string;
  /** Base URL of the owner, without a trailing slash. */
  ownerUrl: string;
  /** The key of the audit/owner pair. */
  key: Buffer;
  /** The person who asked for the restore; the owner decides with this principal. */
  principal: Principal;
  restore: RestoreRequest;
  requestId?: string;
  timeoutMs?: number;
  /** Mutual TLS of the caller; undefined only where it was turned off. */
  tls?: MutualTls | undefined;
}

/** The owner's answer: the restore made, or its refusal as it gave it. */
export type RestoreAnswer =
  { ok: true; result: RestoreResult } | { ok: false; status: number; code: string; message: string };

/**
 * Audit's side of the restore contract (see restore-contract.ts): asks the owner to restore the
 * entity, signed as audit on the principal's behalf. A refusal comes back as the owner worded
 * it; a network failure or an answer outside the contract throws.
 */
export async function requestRestore(options: RequestRestoreOptions): Promise<RestoreAnswer> {
  const response = await signedPost({
    caller: RESTORE_CALLER,
    audience: options.owner,
    key: options.key,
    baseUrl: options.ownerUrl,
    path: RESTORE_PATH,
    body: JSON.stringify(options.restore),
    principal: encodePrincipal(options.principal),
    ...(options.requestId ? { requestId: options.requestId } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    tls: options.tls,
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.ok) {
    const checked = validateRestoreResult(body);
    if ('error' in checked)
      throw new Error(`${options.owner} answered a restore outside the contract: ${checked.error}`);
    return { ok: true, result: checked.result };
  }
  const refusal = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | undefined)
    ?.errors?.[0];
  return {
    ok: false,
    status: response.status,
    code: typeof refusal?.extensions?.code === 'string' ? refusal.extensions.code : 'ERROR',
    message:
      typeof refusal?.message === 'string' ? refusal.message : `${options.owner} answered ${response.status}`,
  };
}
