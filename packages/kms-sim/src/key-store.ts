import { randomBytes, randomUUID } from 'node:crypto';
import { KmsError } from './kms-error.js';

/** The account and region every simulated key claims, as in AWS's documentation examples. */
export const SIM_ACCOUNT = '111122223333';
export const SIM_REGION = 'us-east-1';

/** One version of a key's material. Versions count from 1; blobs name the one that sealed them. */
export interface KeyMaterial {
  readonly version: number;
  readonly key: Buffer;
  /** What KMS calls a KeyMaterialId: 64 hex digits. */
  readonly id: string;
}

export interface SimKey {
  readonly id: string;
  readonly arn: string;
  readonly createdAt: Date;
  readonly description: string;
  enabled: boolean;
  /** Oldest first; the last one seals new blobs. */
  readonly materials: KeyMaterial[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ARN_PREFIX = `arn:aws:kms:${SIM_REGION}:${SIM_ACCOUNT}:key/`;

/**
 * The simulator's keys, in memory for the life of the process: stopping and starting the server
 * keeps them. Keys are named by key id or key ARN; aliases are not simulated.
 */
export class KeyStore {
  readonly #keys = new Map<string, SimKey>();

  create(description = ''): SimKey {
    const id = randomUUID();
    const key: SimKey = {
      id,
      arn: `${ARN_PREFIX}${id}`,
      createdAt: new Date(),
      description,
      enabled: true,
      materials: [],
    };
    this.#addMaterial(key);
    this.#keys.set(id, key);
    return key;
  }

  /** The key a key id or key ARN names; NotFoundException otherwise. */
  get(idOrArn: string): SimKey {
    const id = idOrArn.startsWith(ARN_PREFIX) ? idOrArn.slice(ARN_PREFIX.length) : idOrArn;
    const key = UUID.test(id) ? this.#keys.get(id) : undefined;
    if (!key) throw new KmsError('NotFoundException', `Key '${idOrArn}' does not exist`);
    return key;
  }

  /** Like get, for keys that must be enabled to be used: DisabledException otherwise. */
  usable(idOrArn: string): SimKey {
    const key = this.get(idOrArn);
    if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  }

  /** Adds a material version; new blobs use it, older blobs keep opening with theirs. */
  rotate(idOrArn: string): SimKey {
    const key = this.usable(idOrArn);
    this.#addMaterial(key);
    return key;
  }

  #addMaterial(key: SimKey): void {
    key.materials.push({
      version: key.materials.length + 1,
      key: randomBytes(32),
      id: randomBytes(32).toString('hex'),
    });
  }
}

export function currentMaterial(key: SimKey): KeyMaterial {
  return key.materials[key.materials.length - 1]!;
}
