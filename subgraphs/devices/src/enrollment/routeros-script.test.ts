import { describe, expect, it } from 'vitest';
import { enrollmentScript, quoted } from './routeros-script.js';

/** Reads a RouterOS quoted string back, as RouterOS would: the inverse of `quoted`. */
function unquote(text: string): { value: string; rest: string } {
  if (!text.startsWith('"')) throw new Error('not a quoted string');
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const character = text[i]!;
    if (character === '"') return { value, rest: text.slice(i + 1) };
    if (character === '$') throw new Error('an unescaped $ would expand a variable');
    if (character === '?') throw new Error('an unescaped ? would ask the console for help');
    if (character === '\n' || character === '\r') throw new Error('a raw line break ends the command');
    if (character !== '\\') {
      value += character;
      continue;
    }
    const next = text[++i]!;
    const simple: Record<string, string> = {
      n: '\n',
      r: '\r',
      t: '\t',
      '\\': '\\',
      '"': '"',
      $: '$',
      '?': '?',
    };
    if (next in simple) value += simple[next];
    else {
      value += String.fromCharCode(parseInt(text.slice(i, i + 2), 16));
      i++;
    }
  }
  throw new Error('the quoted string never ends');
}

describe('RouterOS quoting', () => {
  it.each([
    ['plain', 'router-1'],
    ['quotes', 'say "hi"'],
    ['dollar', '$(/system reboot)$x'],
    ['semicolon', 'a; /system reset-configuration'],
    ['backslash', 'C:\\path\\'],
    ['newlines', 'one\ntwo\r\nthree'],
    ['question mark', 'why?'],
    ['control characters', 'bell\u0007 escape\u001b del\u007f tab\t'],
    ['unicode', 'Zürich 東京 🚀'],
  ])('keeps %s inside the string, and reads back the same', (_name, value) => {
    const text = quoted(value);
    const read = unquote(`${text} trailing`);
    expect(read.value).toBe(value);
    expect(read.rest).toBe(' trailing');
  });
});

describe('the enrollment script', () => {
  const hostile = 'x"; /system reset-configuration; :put "$pwned\\\n/ip service enable telnet ?';
  const script = enrollmentScript({
    deviceName: hostile,
    username: 'fleet-abc123',
    password: 'p"$;\\\nq',
    port: 8729,
    token: 'tok_ABC-123',
    enrollUrl: 'https://fleet.example/enroll',
    expiresAt: new Date('2026-11-24T12:00:00Z'),
  });

  it('is a fixed set of commands whatever the values hold', () => {
    const commands = script.trimEnd().split('\n');
    expect(commands).toHaveLength(8);
    expect(commands.map((line) => line.split(' ')[0])).toEqual([
      '#',
      ':if',
      '/user',
      ':if',
      ':delay',
      '/ip',
      ':local',
      '/tool',
    ]);
    expect(script).not.toContain('\n/system reset-configuration');
    expect(script).not.toContain('\n/ip service enable telnet');
  });

  it('puts each value in one quoted string that reads back exactly', () => {
    const user = /\/user add name=("(?:[^"\\]|\\.)*") group=\S+ password=("(?:[^"\\]|\\.)*")/.exec(script)!;
    expect(unquote(user[1]!).value).toBe('fleet-abc123');
    expect(unquote(user[2]!).value).toBe('p"$;\\\nq');
    const name = /common-name=("(?:[^"\\]|\\.)*")/.exec(script)!;
    expect(unquote(name[1]!).value).toBe(hostile);
  });

  it('checks the platform certificate over https, and sends the token and the fingerprint', () => {
    expect(script).toContain('check-certificate=yes');
    expect(script).toContain(
      'http-data=("{\\"token\\":\\"tok_ABC-123\\",\\"port\\":8729,\\"fingerprint\\":\\"" . $fingerprint . "\\"}")',
    );
  });
});
