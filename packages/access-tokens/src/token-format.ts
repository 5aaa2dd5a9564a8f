/**
 * The fixed shape of the federation's access tokens. aaa issues them and the gateway checks
 * them; both read these constants, so the two ends can never disagree on what a token is.
 */

/** The `iss` claim: only aaa issues access tokens. */
export const TOKEN_ISSUER = 'fleet-aaa';

/** The `aud` claim: only the gateway accepts them. */
export const TOKEN_AUDIENCE = 'fleet-gateway';

/** The `typ` header (RFC 9068), so no other JWT of ours can be passed off as an access token. */
export const TOKEN_TYPE = 'at+jwt';

/** Direct encryption with the shared key: no key wrapping, nothing an attacker can choose. */
export const KEY_MANAGEMENT_ALGORITHM = 'dir';
export const CONTENT_ENCRYPTION_ALGORITHM = 'A256GCM';

/** Longest life of a token (exp − iat), and the default: revocation waits at most this long. */
export const MAX_TOKEN_LIFETIME_SECONDS = 900;

/** How far in the future `iat` may be, for clocks that disagree slightly. */
export const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Tokens longer than this are refused before any parsing: a genuine one is well under 2 KiB,
 * and an oversized header or ciphertext should cost us nothing.
 */
export const MAX_TOKEN_LENGTH = 8_192;

/** The only protected header parameters a token may carry. */
export const HEADER_PARAMETERS: readonly string[] = ['alg', 'enc', 'kid', 'typ'];
