import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { DEFAULT_SUBGRAPH_PORTS, SUBGRAPHS } from '../config.js';

/** Where each subgraph keeps its schema: the one source of truth for composition. */
export function subgraphSchemaUrl(name: string): URL {
  return new URL(`../../../subgraphs/${name}/schema.graphql`, import.meta.url);
}

/**
 * Composes the subgraphs' schema files into the supergraph. The URLs written into it are the
 * defaults; the gateway's configuration may point each subgraph elsewhere.
 */
export function composeSupergraph(): string {
  const result = composeServices(
    SUBGRAPHS.map((name) => ({
      name,
      url: `http://127.0.0.1:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`,
      typeDefs: parse(readFileSync(subgraphSchemaUrl(name), 'utf8')),
    })),
  );
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return `${result.supergraphSdl.trimEnd()}\n`;
}
