/**
 * What every TLS endpoint of the platform accepts: TLS 1.2 or later, and under TLS 1.2 only
 * forward-secret AEAD suites (TLS 1.3's own suites are all of that kind).
 */
export const MIN_TLS_VERSION = 'TLSv1.2';

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Why a TLS handshake failed, in words, from Node's error code or a verification result. */
export function describeTlsFailure(code: string | undefined, fallback: string): string {
  switch (code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return 'no certificate was presented';
    case 'CERT_HAS_EXPIRED':
      return 'the certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'the certificate is not yet valid';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return 'the certificate is not signed by the trusted authority';
    case 'ERR_SSL_HTTP_REQUEST':
      return 'plain HTTP was sent to a TLS port';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
      return 'the peer does not speak TLS 1.2 or later';
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'the peer offered no accepted cipher suite';
    default:
      return fallback;
  }
}
