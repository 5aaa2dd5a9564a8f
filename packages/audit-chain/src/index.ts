export {
  digestWithPayloadText,
  eventDigest,
  GENESIS_HASH,
  linkHash,
  linkOf,
  linkProblem,
  NO_TENANT_TAG,
  tenantTag,
  type ChainedEvent,
  type ChainLink,
} from './chain-links.js';
export {
  checkpointMessage,
  checkpointSignedBy,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  publicKeyPem,
  signCheckpoint,
  type Checkpoint,
  type UnsignedCheckpoint,
} from './checkpoint.js';
export {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  formatExportLine,
  type ExportCheckpoint,
  type ExportEvent,
  type ExportHeader,
  type ExportLine,
  type ExportLink,
} from './export-format.js';
export { ExportVerifier, type ExportVerification } from './verify-export.js';
