import { createHash } from 'node:crypto';

/**
 * The pre-6.43 challenge login: the router answers `/login` with `=ret=<challenge hex>`, and the
 * client proves the password with `=response=00` + MD5(0x00 ‖ password ‖ challenge bytes).
 */
export function legacyLoginResponse(password: string, challengeHex: string): string {
  const digest = createHash('md5')
    .update(Buffer.from([0]))
    .update(Buffer.from(password, 'utf8'))
    .update(Buffer.from(challengeHex, 'hex'))
    .digest('hex');
  return `00${digest}`;
}
