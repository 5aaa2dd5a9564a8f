import { describe, expect, it } from 'vitest';
import { clientAddressOf, normalizeAddress } from './client-address.js';

describe('the client address', () => {
  it('is the connection peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddressOf({ remoteAddress: '203.0.113.9', forwardedFor: '198.51.100.1' }, 0)).toBe(
      '203.0.113.9',
    );
    expect(clientAddressOf({ remoteAddress: '::ffff:203.0.113.9', forwardedFor: undefined }, 0)).toBe(
      '203.0.113.9',
    );
    expect(clientAddressOf({ remoteAddress: undefined, forwardedFor: undefined }, 0)).toBe('');
  });

  it('is the n-th X-Forwarded-For entry from the right behind n trusted proxies', () => {
    const forwardedFor = '192.0.2.66, 198.51.100.1, 10.0.0.2';
    const request = { remoteAddress: '10.0.0.3', forwardedFor };
    expect(clientAddressOf(request, 1)).toBe('10.0.0.2');
    expect(clientAddressOf(request, 2)).toBe('198.51.100.1');
    expect(clientAddressOf(request, 3)).toBe('192.0.2.66');
  });

  it('ignores what the client wrote further left', () => {
    const request = { remoteAddress: '10.0.0.3', forwardedFor: '1.1.1.1, 2.2.2.2, 198.51.100.1' };
    expect(clientAddressOf(request, 1)).toBe('198.51.100.1');
  });

  it('reads repeated headers as one list', () => {
    const request = { remoteAddress: '10.0.0.3', forwardedFor: ['192.0.2.66', '198.51.100.1'] };
    expect(clientAddressOf(request, 2)).toBe('192.0.2.66');
  });

  it('takes the leftmost entry of a shorter chain, and the peer when there is no header', () => {
    expect(clientAddressOf({ remoteAddress: '10.0.0.3', forwardedFor: '198.51.100.1' }, 3)).toBe(
      '198.51.100.1',
    );
    expect(clientAddressOf({ remoteAddress: '10.0.0.3', forwardedFor: undefined }, 2)).toBe('10.0.0.3');
    expect(clientAddressOf({ remoteAddress: '10.0.0.3', forwardedFor: ' , ' }, 2)).toBe('10.0.0.3');
  });

  it('gives an empty address rather than text that is not an IP address', () => {
    expect(clientAddressOf({ remoteAddress: '10.0.0.3', forwardedFor: 'evil\nheader, 10.0.0.2' }, 2)).toBe(
      '',
    );
    expect(clientAddressOf({ remoteAddress: '10.0.0.3', forwardedFor: 'unknown' }, 1)).toBe('');
  });

  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['203.0.113.9:5123', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['[2001:DB8::1]:443', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['999.1.1.1', ''],
    ['example.com', ''],
    ['', ''],
  ])('normalizes %j to %j', (text, address) => {
    expect(normalizeAddress(text)).toBe(address);
  });
});
