export {
  CA_NAME,
  DEFAULT_CA_DAYS,
  DEFAULT_LEAF_DAYS,
  createCertificateAuthority,
  issueEdgeCertificate,
  isHostName,
  issueServiceCertificate,
  type IssueOptions,
  type PemPair,
} from './issue-certificates.js';
export {
  DEFAULT_RENEW_BEFORE_DAYS,
  loadOrCreatePki,
  type Pki,
  type PkiOptions,
} from './load-or-create-pki.js';
export { identityUri, serviceIdentityOf } from './service-identity.js';
export { replaceFile } from './replace-file.js';
