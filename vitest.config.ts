import { createRequire } from 'node:module';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages export their TypeScript sources under the "source" condition, so unit
    // tests run against src/ while the processes that system tests start run the built dist/.
    conditions: ['source'],
    // One graphql for everything: Node loads its CommonJS entry for the packages it loads (Apollo's),
    // so the sources under test must get that one too, not the ES build Vite would pick.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  // Tests run in Vite's server environment, which reads its own list of conditions. Without
  // 'module', which points some packages at builds that only bundlers can load.
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    include: ['**/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
