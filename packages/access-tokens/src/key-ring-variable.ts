import type { Variable } from '@fleet/service-kit';
import { parseTokenKeyRing, type TokenKeyRing } from './key-ring.js';

/**
 * A configuration variable holding a token key ring (`kid1:base64url,kid2:base64url`, the first
 * encrypts). It is a required secret: never given a default, never shown in documentation or
 * errors. aaa, which issues tokens, and the gateway, which reads them, must hold the same ring.
 */
export function tokenKeyRing(doc: string): Variable<TokenKeyRing> {
  return {
    doc,
    defaultText: undefined,
    required: true,
    secret: true,
    parse(raw) {
      if (raw === undefined) return { error: 'is required' };
      const ring = parseTokenKeyRing(raw);
      return 'error' in ring ? ring : { value: ring };
    },
  };
}
