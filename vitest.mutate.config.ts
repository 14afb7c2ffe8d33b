import { defineConfig } from 'vitest/config';
import { SLOW } from './vitest.config.ts';

// What `npm run mutate` runs against each mutant: the quick project only. The
// slow project (simulators over real HTTP, the spawned CLI) would make every
// mutant cost seconds, and its child processes load the code outside the
// runner's reach anyway. The price: a mutant that only an end-to-end test
// would kill is reported as surviving (docs/mutation-testing.md).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    exclude: SLOW,
  },
});
