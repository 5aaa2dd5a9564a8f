import { writeFileSync } from 'node:fs';
import { DEFAULT_SUPERGRAPH_PATH } from './config.js';
import { composeSupergraph } from './supergraph/compose.js';

// npm run compose: writes gateway/supergraph.graphql, which is committed.
try {
  writeFileSync(DEFAULT_SUPERGRAPH_PATH, composeSupergraph());
  process.stdout.write(`Wrote ${DEFAULT_SUPERGRAPH_PATH}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
