import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSupergraph, DEFAULT_SUPERGRAPH_PATH, subgraphSchemaUrl } from '@fleet/gateway';
import { eventually, startTestFederation, type TestFederation } from '../support/test-federation.js';

describe('the supergraph', () => {
  it('is committed as composed from the subgraphs’ schema files (run `npm run compose`)', () => {
    expect(readFileSync(DEFAULT_SUPERGRAPH_PATH, 'utf8')).toBe(composeSupergraph());
  });

  describe('when its file changes', () => {
    let fleet: TestFederation;
    let dir: string;
    let path: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fleet-supergraph-'));
      path = join(dir, 'supergraph.graphql');
      await copyFile(DEFAULT_SUPERGRAPH_PATH, path);
      fleet = await startTestFederation({
        engine: 'pglite',
        overrides: { gateway: { GATEWAY_SUPERGRAPH_PATH: path } },
      });
    });

    afterAll(async () => {
      await fleet?.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    const withoutAudit = (): string => {
      const result = composeServices(
        (['aaa', 'devices', 'billing'] as const).map((name, i) => ({
          name,
          url: `http://127.0.0.1:${4101 + i}/graphql`,
          typeDefs: parse(readFileSync(subgraphSchemaUrl(name), 'utf8')),
        })),
      );
      if (result.errors) throw new Error(result.errors.map((e) => e.message).join('\n'));
      return result.supergraphSdl;
    };

    const historyQuery =
      '{ devices(tenantId: "00000000-0000-0000-0000-000000000000") { id history { id } } }';

    it('reloads it, and keeps the running one when the new one is broken', async () => {
      expect((await fleet.asAdmin(historyQuery)).errors).toBeUndefined();

      await writeFile(path, withoutAudit());
      await eventually(async () => {
        const result = await fleet.asAdmin(historyQuery);
        return result.errors?.[0]?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED' ? true : undefined;
      });

      await writeFile(path, 'this is not a supergraph');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const stillServing = await fleet.asAdmin('{ plans { id } }');
      expect(stillServing.errors).toBeUndefined();
      expect(fleet.logs('gateway').some((line) => line.includes('new supergraph refused'))).toBe(true);

      await copyFile(DEFAULT_SUPERGRAPH_PATH, path);
      await eventually(async () => ((await fleet.asAdmin(historyQuery)).errors ? undefined : true));
    });
  });
});
