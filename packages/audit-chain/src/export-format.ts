import type { ChainedEvent } from './chain-links.js';
import type { Checkpoint } from './checkpoint.js';

/**
 * An export is NDJSON: one header line, then one line per position of the range in order (the
 * event itself, or only its link when its body is not part of the export), with each signed
 * checkpoint of the range right after the link it covers. It starts just after a checkpoint (the
 * header's anchor) or at the chain's start, and ends with a checkpoint, so every line is covered
 * by signatures and the export verifies with nothing but audit's public key.
 */
export const EXPORT_FORMAT = 'fleet-audit-export';
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  kind: 'header';
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  fromPosition: number;
  toPosition: number;
  /** The tenant whose events the export holds; null when it holds every tenant's. */
  tenantId: string | null;
  exportedAt: string;
  /** The checkpoint at fromPosition - 1; null when the export starts at position 1. */
  anchor: Checkpoint | null;
}

export interface ExportEvent {
  kind: 'event';
  event: ChainedEvent;
  previousHash: string;
  hash: string;
}

/** A position whose event is not in the export: pruned under a seal, or another tenant's. */
export interface ExportLink {
  kind: 'link';
  position: number;
  /** The one-way tag of the event's tenant (tenantTag), never its id. */
  tenantTag: string;
  previousHash: string;
  digest: string;
  hash: string;
  reason: 'pruned' | 'other-tenant';
}

export interface ExportCheckpoint {
  kind: 'checkpoint';
  checkpoint: Checkpoint;
}

export type ExportLine = ExportHeader | ExportEvent | ExportLink | ExportCheckpoint;

export function formatExportLine(line: ExportLine): string {
  return `${JSON.stringify(line)}\n`;
}
