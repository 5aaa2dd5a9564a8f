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
export {
  SUBSCRIPTION_SIGNATURE_EXTENSION,
  signSubscription,
  verifySubscription,
  type SignSubscriptionInput,
  type SubscriptionPayload,
  type VerifySubscriptionInput,
} from './subscription-signature.js';
export { canonicalJson } from './canonical-json.js';
