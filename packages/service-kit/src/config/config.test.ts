import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  integer,
  loadConfig,
  oneOf,
  port,
  string,
  url,
  databaseUrl,
  boolean,
} from './config.js';
import { signingKey } from './service-config.js';

const spec = {
  HOST: string({ doc: 'host', default: '127.0.0.1' }),
  PORT: port({ doc: 'port', default: 4000 }),
  WORKERS: integer({ doc: 'workers', default: 2, min: 1, max: 8 }),
  MODE: oneOf(['a', 'b'], { doc: 'mode', default: 'a' }),
  UPSTREAM: url({ doc: 'upstream', default: 'http://127.0.0.1:1' }),
  DATABASE_URL: databaseUrl({ doc: 'db' }),
  VERBOSE: boolean({ doc: 'verbose', default: false }),
  KEY: signingKey('key'),
};

describe('loadConfig', () => {
  it('applies defaults and reads each variable under its prefix', () => {
    const key = 'k'.repeat(43);
    const config = loadConfig(spec, 'SVC_', {
      SVC_KEY: key,
      SVC_PORT: '0',
      SVC_VERBOSE: 'true',
      SVC_UPSTREAM: 'http://upstream:8080/',
    });
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 0,
      WORKERS: 2,
      MODE: 'a',
      UPSTREAM: 'http://upstream:8080',
      DATABASE_URL: undefined,
      VERBOSE: true,
    });
    expect(config.KEY).toEqual(Buffer.from(key, 'base64url'));
  });

  it('lists every problem at once, never echoing a secret value', () => {
    let error: unknown;
    try {
      loadConfig(spec, 'SVC_', {
        SVC_PORT: '99999',
        SVC_WORKERS: 'many',
        SVC_MODE: 'c',
        SVC_UPSTREAM: 'ftp://x',
        SVC_DATABASE_URL: 'mysql://u:topsecret@h/d',
        SVC_VERBOSE: 'yes',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'SVC_PORT: must be between 0 and 65535, got 99999',
      'SVC_WORKERS: must be a whole number, got "many"',
      'SVC_MODE: must be one of a, b, got "c"',
      'SVC_UPSTREAM: must be an http or https URL',
      'SVC_DATABASE_URL: must be a postgres:// URL',
      'SVC_VERBOSE: must be true or false, got "yes"',
      'SVC_KEY: is required',
    ]);
    expect((error as Error).message).not.toContain('topsecret');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig(spec, 'SVC_', { SVC_KEY: 'k'.repeat(43), SVC_HOST: '' }).HOST).toBe('127.0.0.1');
  });

  it('documents defaults but never a secret', () => {
    expect(spec.PORT.defaultText).toBe('4000');
    expect(spec.KEY.secret).toBe(true);
    expect(spec.KEY.required).toBe(true);
    expect(spec.DATABASE_URL.required).toBe(false);
  });
});
