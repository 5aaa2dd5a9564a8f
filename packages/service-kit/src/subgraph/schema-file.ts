import { readFileSync } from 'node:fs';
import { parse, type DocumentNode } from 'graphql';

/** Reads a subgraph's schema from its `.graphql` file: the schema's one source of truth. */
export function loadSchemaFile(url: URL): DocumentNode {
  return parse(readFileSync(url, 'utf8'));
}
