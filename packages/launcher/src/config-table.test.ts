import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION, configurationTable } from './config-table.js';

/** The rows of Markdown tables that name a variable, as trimmed cells, whatever the alignment. */
function rows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    )
    .filter(([name]) => name !== undefined && /^`[A-Z][A-Z0-9_]+`$/.test(name));
}

describe('the README configuration table', () => {
  it('lists every variable of every service, as the services declare them (npm run config:table)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(rows(readme)).toEqual(rows(configurationTable()));
  });

  it('covers every variable the services read', () => {
    const names = rows(configurationTable()).map(([name]) => name);
    for (const { prefix, spec } of CONFIGURATION) {
      for (const key of Object.keys(spec)) expect(names).toContain(`\`${prefix}${key}\``);
    }
  });
});
