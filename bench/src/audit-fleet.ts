import { randomUUID } from 'node:crypto';
import type { EventActor, OutboxEvent } from '@fleet/outbox';

/** A source whose events audit ingests, each signing with its own key. */
export type Producer = 'aaa' | 'devices' | 'billing';
export const PRODUCERS: readonly Producer[] = ['aaa', 'devices', 'billing'];

export interface FleetShape {
  tenants: number;
  /** Devices in all, spread evenly over the tenants. */
  devices: number;
  /** People in all (aaa's users, who are also the actors of most changes). */
  people: number;
}

/** A small, seeded pseudo-random generator (mulberry32): the same seed makes the same log shape. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An entity of the fleet and where its history stands. */
interface Entity {
  id: string;
  tenantId: string;
  /** The last sequence given to one of its events (0: none yet). */
  sequence: number;
  /** When its first event occurred (ms), once it has one. */
  firstAt?: number;
}

export interface Device extends Entity {
  exists: boolean;
  state: Record<string, unknown>;
}

export interface Person extends Entity {
  mfa: boolean;
}

const SITES = ['ams', 'rtm', 'fra', 'lon', 'par', 'mad', 'waw', 'prg', 'vie', 'cph', 'osl', 'hel'];
const TAGS = ['edge', 'core', 'lab', 'branch', 'wifi', 'lte', 'backup', 'dc', 'pop', 'customer'];
const BOARDS = ['RB5009UG+S+', 'CCR2004-1G-12S+2XS', 'hAP ax3', 'CRS326-24G-2S+', 'RB4011iGS+'];
const VERSIONS = ['7.14.3', '7.15.2', '7.16.1', '7.16.2', '7.17'];
const PLANS = ['free', 'team', 'business', 'enterprise'];

/** Shares of the log by source: the devices dominate, as a fleet's changes do. */
const AAA_SHARE = 0.05;
const BILLING_SHARE = 0.005;
/** Of a device's changes: how often one removes it (the next one restores it). */
const REMOVAL_SHARE = 0.01;
/** Of the changes people make to devices, how many the platform makes itself (drift, backups). */
const SYSTEM_SHARE = 0.15;

/**
 * A fleet whose changes make a realistic audit log: tenants, their people and their devices,
 * each entity with its own history (sequences from 1, in order). Devices' events carry the
 * whole snapshot the devices service records (its `snapshot()` of a device), aaa's the ids of a
 * login or a second factor, billing's a plan change: ids only, never personal data.
 */
export class AuditFleet {
  readonly tenants: readonly string[];
  readonly people: readonly Person[];
  readonly devices: readonly Device[];
  /** One subscription per tenant (billing keys it by the tenant's id). */
  readonly subscriptions: readonly Entity[];
  readonly #peopleOf = new Map<string, Person[]>();
  readonly #random: () => number;

  constructor(shape: FleetShape, random: () => number) {
    this.#random = random;
    this.tenants = Array.from({ length: shape.tenants }, () => randomUUID());
    this.people = Array.from({ length: shape.people }, (_, i) => ({
      id: randomUUID(),
      tenantId: this.tenants[i % shape.tenants]!,
      sequence: 0,
      mfa: false,
    }));
    for (const person of this.people) {
      const list = this.#peopleOf.get(person.tenantId) ?? [];
      list.push(person);
      this.#peopleOf.set(person.tenantId, list);
    }
    this.devices = Array.from({ length: shape.devices }, (_, i) => {
      const id = randomUUID();
      const tenantId = this.tenants[i % shape.tenants]!;
      const site = this.#pick(SITES);
      const pinned = this.#random() < 0.8;
      return {
        id,
        tenantId,
        sequence: 0,
        exists: false,
        state: {
          id,
          tenantId,
          name: `rtr-${site}-${String(i).padStart(5, '0')}`,
          host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          port: 8729,
          site,
          tags: [this.#pick(TAGS)],
          tlsMode: pinned ? 'pinned' : 'verify',
          tlsFingerprint: pinned ? fingerprint(this.#random) : null,
          identity: `rtr-${i}`,
          routerVersion: this.#pick(VERSIONS),
          board: this.#pick(BOARDS),
          createdAt: '',
        },
      };
    });
    this.subscriptions = this.tenants.map((tenantId) => ({ id: tenantId, tenantId, sequence: 0 }));
  }

  peopleOf(tenantId: string): readonly Person[] {
    return this.#peopleOf.get(tenantId) ?? [];
  }

  pick<T>(list: readonly T[]): T {
    return this.#pick(list);
  }

  /** The next change in the whole fleet, from each source in its share of the log. */
  nextEvent(occurredAt: number): OutboxEvent {
    const draw = this.#random();
    const source: Producer = draw < BILLING_SHARE ? 'billing' : draw < AAA_SHARE ? 'aaa' : 'devices';
    return this.nextEventOf(source, occurredAt);
  }

  /** The next change of one of `source`'s entities, at `occurredAt` (ms since the epoch). */
  nextEventOf(source: Producer, occurredAt: number): OutboxEvent {
    switch (source) {
      case 'devices':
        return this.#deviceChange(occurredAt);
      case 'aaa':
        return this.#personChange(occurredAt);
      case 'billing':
        return this.#planChange(occurredAt);
    }
  }

  #deviceChange(at: number): OutboxEvent {
    const device = this.#pick(this.devices);
    let type: string;
    if (device.sequence === 0) {
      type = 'device.created';
      device.exists = true;
      device.state.createdAt = new Date(at).toISOString();
    } else if (!device.exists) {
      type = 'device.restored';
      device.exists = true;
    } else if (this.#random() < REMOVAL_SHARE) {
      type = 'device.removed';
      device.exists = false;
    } else {
      type = 'device.updated';
      this.#changeDevice(device.state);
    }
    const actor: EventActor =
      this.#random() < SYSTEM_SHARE
        ? { kind: 'system', id: null }
        : { kind: 'user', id: this.#pick(this.peopleOf(device.tenantId)).id };
    return this.#event('devices', 'device', device, type, actor, at, { ...device.state });
  }

  #changeDevice(state: Record<string, unknown>): void {
    switch (Math.floor(this.#random() * 5)) {
      case 0:
        state.site = this.#pick(SITES);
        break;
      case 1:
        state.tags = TAGS.filter(() => this.#random() < 0.2);
        break;
      case 2:
        state.routerVersion = this.#pick(VERSIONS);
        break;
      case 3:
        if (state.tlsMode === 'pinned') state.tlsFingerprint = fingerprint(this.#random);
        else state.port = this.#random() < 0.5 ? 8729 : 18729;
        break;
      default:
        state.name = `${String(state.name).replace(/-v\d+$/, '')}-v${Math.floor(this.#random() * 100)}`;
    }
  }

  #personChange(at: number): OutboxEvent {
    const person = this.#pick(this.people);
    const actor: EventActor = { kind: 'user', id: person.id };
    if (!person.mfa && this.#random() < 0.02) {
      person.mfa = true;
      return this.#event('aaa', 'user', person, 'mfa.enrolled', actor, at, {
        userId: person.id,
        factor: 'totp',
        recoveryCodes: 10,
      });
    }
    return this.#event('aaa', 'user', person, 'login.succeeded', actor, at, {
      userId: person.id,
      sessionId: randomUUID(),
      secondFactor: person.mfa,
      restricted: false,
    });
  }

  #planChange(at: number): OutboxEvent {
    const subscription = this.#pick(this.subscriptions);
    const owner = this.peopleOf(subscription.tenantId)[0];
    const actor: EventActor = owner ? { kind: 'user', id: owner.id } : { kind: 'system', id: null };
    const type = subscription.sequence === 0 ? 'subscription.created' : 'subscription.plan_changed';
    return this.#event('billing', 'subscription', subscription, type, actor, at, {
      tenantId: subscription.tenantId,
      planId: this.#pick(PLANS),
    });
  }

  #event(
    source: Producer,
    aggregateType: string,
    entity: Entity,
    type: string,
    actor: EventActor,
    at: number,
    payload: Record<string, unknown>,
  ): OutboxEvent {
    entity.sequence += 1;
    entity.firstAt ??= at;
    return {
      id: randomUUID(),
      source,
      aggregateType,
      aggregateId: entity.id,
      sequence: entity.sequence,
      type,
      tenantId: entity.tenantId,
      actor,
      occurredAt: new Date(at).toISOString(),
      payload,
    };
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#random() * list.length)]!;
  }
}

/** A certificate's SHA-256 fingerprint as devices stores a pinned one: 32 hex bytes, colon separated. */
function fingerprint(random: () => number): string {
  return Array.from({ length: 32 }, () =>
    Math.floor(random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join(':');
}
