// changegate's entry point: `node src/main.ts <command>` (npm start runs `serve`).

import { main } from './cli/run-cli.ts';

await main(process.argv.slice(2));
