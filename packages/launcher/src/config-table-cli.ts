import { configurationTable } from './config-table.js';

// npm run config:table: prints the README's configuration table.
process.stdout.write(`${configurationTable()}\n`);
