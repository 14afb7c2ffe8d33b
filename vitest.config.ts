import { defineConfig } from 'vitest/config';

// `quick` is the inner loop: everything that runs in this process. `slow` holds
// the end-to-end runs (simulators over real HTTP, the packed production install)
// and the tests that spawn the real CLI once per case. `npm test` runs both.
export const SLOW = ['test/e2e/**/*.test.ts', 'test/integration/cli.test.ts', 'test/integration/check-command.test.ts', 'test/integration/check-agrees-with-service.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // MONGODB_URI for the MongoDB store's suites: FerretDB started here when CI has not set it.
    globalSetup: ['./test/support/ferretdb-global-setup.ts'],
    reporters: ['default', './test/support/closing-line-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'quick', include: ['test/**/*.test.ts'], exclude: SLOW } },
      { extends: true, test: { name: 'slow', include: SLOW } },
    ],
  },
});
