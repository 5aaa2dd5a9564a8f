import { describe, expect, it } from 'vitest';
import { compileQuery } from './query.js';

const items: Record<string, string>[] = [
  { '.id': '*1', name: 'ether1', type: 'ether', mtu: '1500' },
  { '.id': '*A', name: 'vlan10', type: 'vlan', mtu: '1496', comment: 'office' },
  { '.id': '*2', name: 'bridge', type: 'bridge', mtu: '9000', comment: '' },
];
const select = (...words: string[]): string[] => items.filter(compileQuery(words)).map((item) => item.name!);

describe('query words', () => {
  it('matches everything without queries', () => {
    expect(select()).toEqual(['ether1', 'vlan10', 'bridge']);
  });

  it('tests presence, absence, equality and order', () => {
    expect(select('comment')).toEqual(['vlan10', 'bridge']);
    expect(select('-comment')).toEqual(['ether1']);
    expect(select('type=vlan')).toEqual(['vlan10']);
    expect(select('=type=vlan')).toEqual(['vlan10']);
    expect(select('>comment=')).toEqual(['vlan10']);
    expect(select('<mtu=1500')).toEqual(['vlan10']);
    expect(select('>mtu=1500')).toEqual(['bridge']);
    expect(select('<name=c')).toEqual(['bridge']);
    // .id values compare as hexadecimal numbers: *A is above *2.
    expect(select('>.id=*2')).toEqual(['vlan10']);
  });

  it('ANDs consecutive queries (no false may be left on the stack)', () => {
    expect(select('type=ether', 'mtu=1500')).toEqual(['ether1']);
    expect(select('type=ether', 'mtu=9000')).toEqual([]);
  });
});

describe('?# operations', () => {
  it('| and & pop two values and push one', () => {
    expect(select('type=ether', 'type=vlan', '#|')).toEqual(['ether1', 'vlan10']);
    expect(select('type=ether', 'type=vlan', '#&')).toEqual([]);
    expect(select('type=ether', 'type=vlan', 'type=bridge', '#||')).toEqual(['ether1', 'vlan10', 'bridge']);
  });

  it('! negates the top', () => {
    expect(select('type=ether', 'type=vlan', '#|!')).toEqual(['bridge']);
    expect(select('type=ether', '#!')).toEqual(['vlan10', 'bridge']);
  });

  it('an index at the end of the word replaces the whole stack with that value', () => {
    // Stack (top first): [type=vlan, type=ether]; "1" keeps only type=ether.
    expect(select('type=ether', 'type=vlan', '#1')).toEqual(['ether1']);
    expect(select('type=ether', 'type=vlan', '#0')).toEqual(['vlan10']);
  });

  it('an index followed by more pushes a copy; "." after an index does nothing', () => {
    // [vlan, ether] → push copy of 1 (ether) → [ether, vlan, ether] → | → [ether|vlan, ether] → the
    // bottom ether still has to hold.
    expect(select('type=ether', 'type=vlan', '#1|')).toEqual(['ether1']);
    expect(select('type=ether', 'type=vlan', '#1.|')).toEqual(['ether1']);
    // Replace the stack by the OR: "|0" ends in an index.
    expect(select('type=ether', 'type=vlan', '#|0')).toEqual(['ether1', 'vlan10']);
  });

  it('"." elsewhere pushes a copy of the top', () => {
    // [vlan, ether] → . → [vlan, vlan, ether] → & → [vlan, ether] → needs both.
    expect(select('type=ether', 'type=vlan', '#.&')).toEqual([]);
    expect(select('type=vlan', '#.!|')).toEqual(['ether1', 'vlan10', 'bridge']);
  });

  it('reads operations beyond the stack as the infinite trues below it', () => {
    expect(select('#!')).toEqual([]);
    expect(select('type=vlan', '#&&&')).toEqual(['vlan10']);
    expect(select('type=vlan', '#5')).toEqual(['ether1', 'vlan10', 'bridge']);
  });

  it('compares booleans in the form items hold them', () => {
    const match = compileQuery(['disabled=yes'], (name, value) =>
      name === 'disabled' ? (value === 'yes' ? 'true' : 'false') : value,
    );
    expect(match({ disabled: 'true' })).toBe(true);
    expect(match({ disabled: 'false' })).toBe(false);
  });
});
