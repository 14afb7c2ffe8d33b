// Mutation testing, on demand: `npm run mutate` (never part of `npm test` or CI).
// Scope: the policy engine, the store, the sync engine and the connectors'
// cursor, paging and writer code. docs/mutation-testing.md has the scores and
// what every surviving mutant group means.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', pool: 'forks' },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/policy/**/*.ts',
    'src/store/**/*.ts',
    'src/sync/**/*.ts',
    // ServiceNow: the keyset cursor query, the paged streams, the page walk of the table client, the writer.
    'connectors/servicenow/keyset-query.ts',
    'connectors/servicenow/servicenow-connector.ts',
    'connectors/servicenow/servicenow-client.ts',
    'connectors/servicenow/servicenow-writer.ts',
    // Jira: the bounded JQL and key order, the paged search and its skip rule, list paging, the writer.
    'connectors/jira/jira-jql.ts',
    'connectors/jira/jira-connector.ts',
    'connectors/jira/jira-issue-reader.ts',
    'connectors/jira/jira-writer.ts',
  ],
  // A static mutant (a module-level constant, a zod schema, the rule catalog) can
  // only be tested by reloading every module and running the whole suite: 38% of
  // the policy mutants took 98% of the time. They are reported as ignored; the
  // schemas and tables they would mutate are covered by their own tests.
  ignoreStatic: true,
  // Reruns only test mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowEmojis: false, logTests: false, reportMutants: false },
  // Two cores shared with everything else on a workstation; pass --concurrency to change it.
  concurrency: 1,
  timeoutFactor: 2,
  ignorePatterns: ['reports', 'data', 'coverage', '.ci/.venv', 'deploy', '.stryker-tmp*'],
  // Stryker rewrites the sandbox's tsconfig through the TypeScript JS API, which
  // TypeScript 7 (the native compiler) no longer ships; ours has no paths that
  // leave the project, so pointing at a file that does not exist skips the rewrite.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
