// JUnit XML test reports as evidence. There is no JUnit standard, only the Ant
// schema and what each tool emits (Surefire, pytest, jest-junit, Go, Gradle),
// and the count attributes are optional and often wrong (a merged report keeps
// the first suite's `tests`, a rerun plugin counts twice). So the counts are
// recomputed from the <testcase> elements; the declared ones are kept beside
// them only to show a mismatch.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { TestSummary } from '../../domain/events.ts';
import { ChangegateError } from '../../errors.ts';

export interface JunitCounts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

export interface JunitSummary {
  /** For CiEvent.tests: an errored test is a failed test to a gate. */
  tests: TestSummary;
  /** Recomputed from the test cases. */
  counted: JunitCounts;
  /** The top-level attributes as written, or null when the report declares none. */
  declared: JunitCounts | null;
  /** Up to 20 `classname.name` of failed or errored cases, for the ticket summary. */
  failedTests: string[];
  suites: number;
}

type Node = Record<string, unknown>;
const MAX_NAMES = 20;
/** Elements that may repeat are always read as arrays, so one child and several look alike. */
const ALWAYS_ARRAYS = new Set(['testsuite', 'testcase', 'failure', 'error', 'skipped']);

function invalid(field: string, problem: string, details: Record<string, unknown> = {}): ChangegateError {
  return new ChangegateError('CG_EVENT_INVALID', `JUnit report: ${field} ${problem}`, { details: { format: 'junit', field, ...details } });
}

const asNodes = (value: unknown): Node[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((entry) => (typeof entry === 'object' && entry !== null ? (entry as Node) : {}));

function attribute(node: Node, name: string): string | null {
  const value = node[`@_${name}`];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
}

function declaredCount(node: Node, name: string): number | null {
  const value = attribute(node, name);
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  return Number(value);
}

function caseOutcome(testcase: Node): 'passed' | 'failed' | 'errored' | 'skipped' {
  // An error outranks a failure: the test could not run to its assertion. Surefire's
  // <flakyFailure>/<rerunFailure> record failed attempts of a test that finally passed, so they are not read.
  if (asNodes(testcase['error']).length > 0) return 'errored';
  if (asNodes(testcase['failure']).length > 0) return 'failed';
  const status = attribute(testcase, 'status')?.toLowerCase();
  if (asNodes(testcase['skipped']).length > 0 || status === 'skipped' || status === 'notrun' || status === 'disabled') return 'skipped';
  return 'passed';
}

/** Suites may nest (Ant, Gradle aggregates); every testcase under any of them counts once. */
function walk(suite: Node, counted: JunitCounts, failedTests: string[], depth: number): number {
  if (depth > 64) throw invalid('testsuite', 'nests deeper than 64 levels');
  let suites = 1;
  for (const testcase of asNodes(suite['testcase'])) {
    const outcome = caseOutcome(testcase);
    counted.tests += 1;
    if (outcome === 'failed') counted.failures += 1;
    if (outcome === 'errored') counted.errors += 1;
    if (outcome === 'skipped') counted.skipped += 1;
    if ((outcome === 'failed' || outcome === 'errored') && failedTests.length < MAX_NAMES) {
      const name = [attribute(testcase, 'classname'), attribute(testcase, 'name')].filter((part) => part !== null).join('.');
      failedTests.push(name === '' ? '(unnamed test)' : name);
    }
  }
  for (const child of asNodes(suite['testsuite'])) suites += walk(child, counted, failedTests, depth + 1);
  return suites;
}

function declared(roots: Node[]): JunitCounts | null {
  const sums: JunitCounts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  let any = false;
  for (const root of roots) {
    for (const key of ['tests', 'failures', 'errors', 'skipped'] as const) {
      // `disabled` is Ant's name for what others call skipped.
      const value = declaredCount(root, key) ?? (key === 'skipped' ? declaredCount(root, 'disabled') : null);
      if (value !== null) {
        sums[key] += value;
        any = true;
      }
    }
  }
  return any ? sums : null;
}

export function summariseJunit(report: string | Buffer): JunitSummary {
  const xml = typeof report === 'string' ? report : report.toString('utf8');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw invalid('xml', `is not well-formed: ${valid.err.msg}`, { line: valid.err.line });
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseAttributeValue: false,
    parseTagValue: false,
    isArray: (name) => ALWAYS_ARRAYS.has(name),
  });
  let document: Node;
  try {
    document = parser.parse(xml) as Node;
  } catch (err) {
    // The validator passes a few shapes the parser then trips on (`<!"` inside an element): still not a report, and said so.
    throw invalid('xml', `is not well-formed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const wrapper = document['testsuites'];
  // <testsuites> is optional when a report holds one suite.
  const wrappers = asNodes(wrapper);
  const roots = wrapper === undefined ? asNodes(document['testsuite']) : wrappers.flatMap((node) => asNodes(node['testsuite']));
  if (wrapper === undefined && roots.length === 0) throw invalid('testsuites', 'is missing: the root element is neither <testsuites> nor <testsuite>');
  const counted: JunitCounts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  const failedTests: string[] = [];
  const suites = roots.reduce((total, suite) => total + walk(suite, counted, failedTests, 0), 0);
  return {
    tests: { passed: counted.tests - counted.failures - counted.errors - counted.skipped, failed: counted.failures + counted.errors, skipped: counted.skipped },
    counted,
    declared: declared(wrapper === undefined ? roots : wrappers),
    failedTests,
    suites,
  };
}
