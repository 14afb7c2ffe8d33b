// changegate's entry point and composition root: it hands the CLI the shipped connector registry.
// bin/changegate.js loads it (npm start, npx changegate, the deployment assets), with the module
// compile cache on; `node src/main.ts <command>` runs it too, without the cache.

import { registry } from './app/registry.ts';
import { main } from './cli/run-cli.ts';
import { boundHeapGrowth } from './heap-growth.ts';

boundHeapGrowth();
await main(process.argv.slice(2), registry);
