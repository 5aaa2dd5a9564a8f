/**
 * Reply sentences. A tag goes second, right after the reply word, as real devices send it
 * (`!re`, `.tag=10`, `=.id=*A`, …); a reply to an untagged command has none.
 */

function tagged(type: string, tag: string | undefined): string[] {
  return tag === undefined ? [type] : [type, `.tag=${tag}`];
}

export function replyWords(
  type: '!re' | '!done' | '!empty',
  tag: string | undefined,
  attributes: Readonly<Record<string, string>> = {},
): string[] {
  const words = tagged(type, tag);
  for (const [name, value] of Object.entries(attributes)) words.push(`=${name}=${value}`);
  return words;
}

/** `!trap`, with `=category=` before `=message=` as captured. */
export function trapWords(tag: string | undefined, message: string, category?: number): string[] {
  const words = tagged('!trap', tag);
  if (category !== undefined) words.push(`=category=${category}`);
  words.push(`=message=${message}`);
  return words;
}

/** `!fatal` carries its reason as a bare word; the router then closes the connection. */
export function fatalWords(reason: string): string[] {
  return ['!fatal', reason];
}
