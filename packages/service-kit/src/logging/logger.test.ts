import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ service: 'test', level: 'info', destination });
  return { logger, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes JSON lines with the service name and level', () => {
    const { logger, lines } = capture();
    logger.info({ requestId: 'r1' }, 'hello');
    expect(lines()[0]).toMatchObject({ service: 'test', level: 'info', requestId: 'r1', msg: 'hello' });
  });

  it('redacts secrets and PII at the top level and nested', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        password: 'hunter2hunter2',
        email: 'alice@example.com',
        headers: { authorization: 'Bearer abc', 'x-fleet-signature': 'sig' },
        input: { user: { email: 'bob@example.com' }, token: 'tok' },
      },
      'login',
    );
    const text = JSON.stringify(lines()[0]);
    for (const secret of [
      'hunter2hunter2',
      'alice@example.com',
      'Bearer abc',
      'sig"',
      'bob@example.com',
      'tok"',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
  });
});
