/**
 * The `?` queries of print, as the API manual describes them: each query word pushes one boolean
 * onto a stack that starts as infinitely many `true`s; `?#` words operate on the stack; an item is
 * printed when no `false` is left.
 *
 *   ?name        push: the item has the property
 *   ?-name       push: the item does not have it
 *   ?name=x      push: name == x   (also written ?=name=x)
 *   ?<name=x     push: name < x
 *   ?>name=x     push: name > x    (?>comment= is "has a non-empty comment")
 *   ?#ops        digits: stack index (top is 0), pushing a copy, or at the end of the word replacing
 *                the whole stack with it; ! negates the top; & and | pop two and push the result;
 *                . after an index does nothing, elsewhere it pushes a copy of the top.
 */

export type Item = Readonly<Record<string, string>>;
export type Predicate = (item: Item) => boolean;

/** Turns a query value into the form items hold (booleans are stored as true/false). */
export type ValueNormalizer = (name: string, value: string) => string;

type Step = { kind: 'push'; test: Predicate } | { kind: 'ops'; ops: string };

function splitNameValue(text: string): [string, string | undefined] {
  const at = text.indexOf('=');
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** `*1F` ids and plain numbers compare as numbers; everything else as text. */
function compare(left: string, right: string): number {
  const id = /^\*([0-9A-Fa-f]+)$/;
  const leftId = id.exec(left);
  const rightId = id.exec(right);
  if (leftId && rightId) return parseInt(leftId[1]!, 16) - parseInt(rightId[1]!, 16);
  const number = /^-?\d+(\.\d+)?$/;
  if (number.test(left) && number.test(right)) return Number(left) - Number(right);
  return left < right ? -1 : left > right ? 1 : 0;
}

function parseWord(word: string, normalize: ValueNormalizer): Step {
  if (word.startsWith('#')) return { kind: 'ops', ops: word.slice(1) };
  if (word.startsWith('-')) {
    const name = word.slice(1);
    return { kind: 'push', test: (item) => item[name] === undefined };
  }
  const operator = word[0];
  if (operator === '<' || operator === '>' || operator === '=') {
    const [name, raw = ''] = splitNameValue(word.slice(1));
    const value = normalize(name, raw);
    if (operator === '=') return { kind: 'push', test: (item) => (item[name] ?? '') === value };
    const sign = operator === '<' ? -1 : 1;
    return {
      kind: 'push',
      test: (item) => {
        const actual = item[name];
        return actual !== undefined && Math.sign(compare(actual, value)) === sign;
      },
    };
  }
  const [name, raw] = splitNameValue(word);
  if (raw === undefined) return { kind: 'push', test: (item) => item[name] !== undefined };
  const value = normalize(name, raw);
  return { kind: 'push', test: (item) => (item[name] ?? '') === value };
}

/** The stack: explicit values on top of infinitely many `true`s. */
class Stack {
  values: boolean[] = [];

  push(value: boolean): void {
    this.values.push(value);
  }

  pop(): boolean {
    return this.values.length === 0 ? true : this.values.pop()!;
  }

  at(index: number): boolean {
    const position = this.values.length - 1 - index;
    return position < 0 ? true : this.values[position]!;
  }

  apply(ops: string): void {
    let i = 0;
    let afterIndex = false;
    while (i < ops.length) {
      const char = ops[i]!;
      if (char >= '0' && char <= '9') {
        let end = i;
        while (end < ops.length && ops[end]! >= '0' && ops[end]! <= '9') end++;
        const value = this.at(Number(ops.slice(i, end)));
        if (end === ops.length) this.values = [value];
        else this.push(value);
        i = end;
        afterIndex = true;
        continue;
      }
      switch (char) {
        case '!':
          this.push(!this.pop());
          break;
        case '&': {
          const a = this.pop();
          const b = this.pop();
          this.push(a && b);
          break;
        }
        case '|': {
          const a = this.pop();
          const b = this.pop();
          this.push(a || b);
          break;
        }
        case '.':
          if (!afterIndex) this.push(this.at(0));
          break;
        default:
          // Other characters have no meaning; they are skipped.
          break;
      }
      afterIndex = false;
      i++;
    }
  }

  holds(): boolean {
    return this.values.every(Boolean);
  }
}

/** The predicate of a print's query words (without their leading `?`); every item passes none. */
export function compileQuery(
  words: readonly string[],
  normalize: ValueNormalizer = (_name, value) => value,
): Predicate {
  if (words.length === 0) return () => true;
  const steps = words.map((word) => parseWord(word, normalize));
  return (item) => {
    const stack = new Stack();
    for (const step of steps) {
      if (step.kind === 'push') stack.push(step.test(item));
      else stack.apply(step.ops);
    }
    return stack.holds();
  };
}
