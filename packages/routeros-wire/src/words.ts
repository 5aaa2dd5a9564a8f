/**
 * The meaning of words inside a sentence: `=name=value` attributes (split on the first two
 * `=`, the value may itself hold `=`), `.tag=` API attributes, `?` queries, and `!` reply words.
 */

export interface Command {
  /** The command word, e.g. `/ip/address/print`. */
  path: string;
  attributes: Map<string, string>;
  /** The `.tag` the sender asked replies to carry; undefined when absent or empty. */
  tag: string | undefined;
  /** Query words in order, without the leading `?`. */
  queries: string[];
}

export function parseCommand(words: readonly string[]): Command {
  const [path = '', ...rest] = words;
  const attributes = new Map<string, string>();
  const queries: string[] = [];
  let tag: string | undefined;
  for (const word of rest) {
    if (word.startsWith('=')) {
      const [name, value] = splitAttribute(word.slice(1));
      attributes.set(name, value);
    } else if (word.startsWith('.tag=')) {
      const value = word.slice('.tag='.length);
      tag = value === '' ? undefined : value;
    } else if (word.startsWith('?')) {
      queries.push(word.slice(1));
    }
    // Other API attributes are ignored, as by the router.
  }
  return { path, attributes, tag, queries };
}

export type ReplyType = '!re' | '!done' | '!trap' | '!fatal' | '!empty';

export interface Reply {
  /** A ReplyType, or whatever else the peer sent. */
  type: string;
  tag: string | undefined;
  attributes: Record<string, string>;
  /** Words that are neither attributes nor the tag: the reason of a `!fatal`. */
  bare: string[];
}

export function parseReply(words: readonly string[]): Reply {
  const [type = '', ...rest] = words;
  const attributes: Record<string, string> = {};
  const bare: string[] = [];
  let tag: string | undefined;
  for (const word of rest) {
    if (word.startsWith('=')) {
      const [name, value] = splitAttribute(word.slice(1));
      attributes[name] = value;
    } else if (word.startsWith('.tag=')) {
      tag = word.slice('.tag='.length);
    } else {
      bare.push(word);
    }
  }
  return { type, tag, attributes, bare };
}

/** `name=value` → [name, value]; a word without `=` is a name with an empty value. */
function splitAttribute(text: string): [string, string] {
  const at = text.indexOf('=');
  return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

export function attributeWord(name: string, value: string): string {
  return `=${name}=${value}`;
}
