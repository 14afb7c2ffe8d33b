// changegate's entry point: `node src/main.ts <command>` (npm start runs `serve`).
// The composition root: it hands the CLI the shipped connector registry.

import { registry } from './app/registry.ts';
import { main } from './cli/run-cli.ts';
import { boundHeapGrowth } from './heap-growth.ts';

boundHeapGrowth();
await main(process.argv.slice(2), registry);
