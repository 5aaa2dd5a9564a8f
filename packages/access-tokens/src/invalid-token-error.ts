/** Why a token was refused: for logs and tests, never for the client. */
export type InvalidTokenReason =
  | 'oversized'
  | 'malformed'
  | 'bad-header'
  | 'unknown-key'
  | 'undecryptable'
  | 'bad-claims'
  | 'lifetime-too-long'
  | 'not-yet-valid'
  | 'expired';

/**
 * A token that is not a valid access token. The message is the same whatever went wrong, so
 * that an error shown to a client tells it nothing about which check failed; `reason` is for
 * the logs.
 */
export class InvalidTokenError extends Error {
  readonly reason: InvalidTokenReason;

  constructor(reason: InvalidTokenReason) {
    super('Invalid token');
    this.name = 'InvalidTokenError';
    this.reason = reason;
  }
}
