import type { KeyObject } from 'node:crypto';
import { eventDigest, GENESIS_HASH, linkHash, tenantTag } from './chain-links.js';
import { checkpointSignedBy, type Checkpoint } from './checkpoint.js';
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportEvent,
  type ExportHeader,
  type ExportLine,
  type ExportLink,
} from './export-format.js';

export type ExportVerification =
  | {
      ok: true;
      fromPosition: number;
      toPosition: number;
      tenantId: string | null;
      events: number;
      /** Positions present only as links (pruned, or another tenant's). */
      linksOnly: number;
      checkpoints: number;
      keyIds: string[];
    }
  | {
      ok: false;
      /** 1-based line of the export where verification stopped. */
      line: number;
      /** The chain position that line is about, when it has one. */
      position: number | null;
      reason: string;
    };

/**
 * Checks an export line by line, holding only the running hash: feed it every line, then ask
 * for the result. Each event's digest and link is recomputed, each checkpoint's signature is
 * checked against the given public keys and against the hash the chain reached at its position,
 * and the export must end on a checkpoint.
 */
export class ExportVerifier {
  readonly #keys: readonly KeyObject[];
  #lineNumber = 0;
  #header: ExportHeader | undefined;
  #position = 0;
  #hash = GENESIS_HASH;
  #lastCheckpoint: Checkpoint | null = null;
  #lastLineWasCheckpoint = false;
  #events = 0;
  #linksOnly = 0;
  #checkpoints = 0;
  readonly #keyIds = new Set<string>();
  #failure: Extract<ExportVerification, { ok: false }> | undefined;

  constructor(publicKeys: readonly KeyObject[]) {
    this.#keys = publicKeys;
  }

  /** Takes the next line; after the first failure the rest is ignored. */
  accept(text: string): void {
    if (this.#failure) return;
    this.#lineNumber++;
    if (text.trim() === '') return this.#fail(null, 'empty line');
    let line: ExportLine;
    try {
      line = JSON.parse(text) as ExportLine;
    } catch {
      return this.#fail(null, 'not JSON');
    }
    if (!this.#header) return this.#acceptHeader(line);
    this.#lastLineWasCheckpoint = false;
    switch (line.kind) {
      case 'event':
        return this.#acceptEvent(line);
      case 'link':
        return this.#acceptLinkOnly(line);
      case 'checkpoint':
        return this.#acceptCheckpoint(line.checkpoint);
      default:
        return this.#fail(null, `unknown line kind "${String((line as { kind?: unknown }).kind)}"`);
    }
  }

  finish(): ExportVerification {
    const header = this.#header;
    if (!this.#failure) {
      if (!header) this.#fail(null, 'the export is empty');
      else if (this.#position !== header.toPosition)
        this.#fail(this.#position + 1, `the export ends before position ${header.toPosition}`);
      else if (!this.#lastLineWasCheckpoint || this.#lastCheckpoint?.position !== header.toPosition)
        this.#fail(header.toPosition, 'the export does not end with a checkpoint of its last position');
    }
    if (this.#failure || !header) return this.#failure!;
    return {
      ok: true,
      fromPosition: header.fromPosition,
      toPosition: header.toPosition,
      tenantId: header.tenantId,
      events: this.#events,
      linksOnly: this.#linksOnly,
      checkpoints: this.#checkpoints,
      keyIds: [...this.#keyIds].sort(),
    };
  }

  #acceptHeader(line: ExportLine): void {
    if (line.kind !== 'header' || line.format !== EXPORT_FORMAT)
      return this.#fail(null, 'the first line is not an audit export header');
    if (line.version !== EXPORT_VERSION)
      return this.#fail(null, `unsupported export version ${String(line.version)}`);
    if (
      !Number.isSafeInteger(line.fromPosition) ||
      line.fromPosition < 1 ||
      line.toPosition < line.fromPosition
    )
      return this.#fail(null, 'the header has no valid range');
    if (line.anchor === null) {
      if (line.fromPosition !== 1)
        return this.#fail(null, 'an export that does not start at position 1 needs an anchor');
    } else {
      if (line.anchor.position !== line.fromPosition - 1)
        return this.#fail(null, 'the anchor is not the checkpoint just before the range');
      if (!this.#signed(line.anchor))
        return this.#fail(line.anchor.position, 'the anchor checkpoint is not signed by a given key');
      this.#hash = line.anchor.hash;
      this.#lastCheckpoint = line.anchor;
    }
    this.#position = line.fromPosition - 1;
    this.#header = line;
  }

  #acceptEvent(line: ExportEvent): void {
    const { event } = line;
    const tenant = this.#header!.tenantId;
    if (tenant !== null && event?.tenantId !== tenant)
      return this.#fail(event?.position ?? null, "the event is of another tenant than the export's");
    let digest: string;
    try {
      digest = eventDigest(event);
    } catch {
      return this.#fail(null, 'the event is malformed');
    }
    this.#acceptLink(
      event.position,
      tenantTag(event.tenantId),
      line.previousHash,
      digest,
      line.hash,
      'event',
    );
  }

  #acceptLinkOnly(line: ExportLink): void {
    const tenant = this.#header!.tenantId;
    if (line.reason === 'other-tenant' && (tenant === null || line.tenantTag === tenantTag(tenant)))
      return this.#fail(line.position, "an event of the export's own tenant is left out");
    if (line.reason !== 'other-tenant' && line.reason !== 'pruned')
      return this.#fail(line.position, 'a link gives no valid reason for leaving its event out');
    this.#acceptLink(line.position, line.tenantTag, line.previousHash, line.digest, line.hash, 'link');
  }

  #acceptLink(
    position: number,
    tag: string,
    previousHash: string,
    digest: string,
    hash: string,
    kind: 'event' | 'link',
  ): void {
    const expected = this.#position + 1;
    if (position !== expected)
      return this.#fail(expected, `expected position ${expected}, found ${String(position)}`);
    if (position > this.#header!.toPosition)
      return this.#fail(position, 'the line is past the range of the header');
    if (previousHash !== this.#hash)
      return this.#fail(position, 'its previous hash is not the hash before it');
    if (typeof tag !== 'string' || linkHash(previousHash, position, tag, digest) !== hash)
      return this.#fail(
        position,
        kind === 'event' ? 'the event does not match its hash' : 'the link does not match its hash',
      );
    this.#position = position;
    this.#hash = hash;
    if (kind === 'event') this.#events++;
    else this.#linksOnly++;
  }

  #acceptCheckpoint(checkpoint: Checkpoint): void {
    if (checkpoint.position !== this.#position)
      return this.#fail(checkpoint.position, 'a checkpoint is not right after the link it covers');
    if (checkpoint.hash !== this.#hash)
      return this.#fail(checkpoint.position, 'a checkpoint does not match the chain');
    if (checkpoint.previousSignature !== (this.#lastCheckpoint?.signature ?? null))
      return this.#fail(checkpoint.position, 'a checkpoint is not chained to the checkpoint before it');
    if (!this.#signed(checkpoint))
      return this.#fail(checkpoint.position, 'a checkpoint is not signed by a given key');
    this.#lastCheckpoint = checkpoint;
    this.#lastLineWasCheckpoint = true;
    this.#checkpoints++;
  }

  #signed(checkpoint: Checkpoint): boolean {
    const signed = checkpointSignedBy(checkpoint, this.#keys);
    if (signed) this.#keyIds.add(checkpoint.keyId);
    return signed;
  }

  #fail(position: number | null, reason: string): undefined {
    this.#failure = { ok: false, line: this.#lineNumber, position, reason };
    return undefined;
  }
}
