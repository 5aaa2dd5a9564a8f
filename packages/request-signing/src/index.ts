export {
  SIGNATURE_VERSION,
  SignedHeaders,
  sign,
  verify,
  type ReplayGuard,
  type SignInput,
  type SignedHeaderValues,
  type VerifyFailure,
  type VerifyInput,
  type VerifyResult,
} from './signature.js';
export { MemoryReplayGuard, type MemoryReplayGuardOptions } from './memory-replay-guard.js';
export { decodeKey, generateKey, KEY_BYTES } from './keys.js';
