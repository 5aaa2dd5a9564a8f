export { decodeLength, encodeLength, MAX_WORD_LENGTH, WireError } from './word-length.js';
export {
  encodeSentence,
  SentenceDecoder,
  type Sentence,
  type SentenceDecoderOptions,
} from './sentence-codec.js';
export {
  attributeWord,
  parseCommand,
  parseReply,
  type Command,
  type Reply,
  type ReplyType,
} from './words.js';
export { legacyLoginResponse } from './legacy-login.js';
