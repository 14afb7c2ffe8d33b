import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { summariseJunit } from '../../../src/events/results/junit.ts';
import { fixtureBytes } from '../../support/source-delivery.ts';

/** `true` for a sane summary, `invalid` for CG_EVENT_INVALID, `crash` for anything else thrown. */
function outcomeOf(run: () => boolean): boolean | 'invalid' | 'crash' {
  try {
    return run();
  } catch (err) {
    return isChangegateError(err, 'CG_EVENT_INVALID') ? 'invalid' : 'crash';
  }
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('JUnit reports', () => {
  it('recomputes counts from the test cases of a merged Surefire report whose declared counts are wrong', () => {
    expect(summariseJunit(fixtureBytes('CONSTRUCTED-junit-surefire-merged.xml'))).toEqual({
      tests: { passed: 4, failed: 2, skipped: 1 },
      counted: { tests: 7, failures: 1, errors: 1, skipped: 1 },
      declared: { tests: 4, failures: 0, errors: 0, skipped: 0 },
      failedTests: ['com.acme.checkout.PaymentClientTest.retriesOn503', 'com.acme.checkout.PaymentClientTest.connectsWithMtls'],
      suites: 2,
    });
  });

  it('reads a single-suite pytest report (no <testsuites> wrapper)', () => {
    const summary = summariseJunit(fixtureBytes('CONSTRUCTED-junit-pytest-single-suite.xml'));
    expect(summary.tests).toEqual({ passed: 2, failed: 0, skipped: 1 });
    expect(summary.declared).toEqual({ tests: 3, failures: 0, errors: 0, skipped: 1 });
  });

  it('counts every test case of nested suites once', () => {
    const summary = summariseJunit(fixtureBytes('CONSTRUCTED-junit-gradle-nested.xml'));
    expect(summary).toMatchObject({ tests: { passed: 2, failed: 1, skipped: 0 }, suites: 3, failedTests: ['api.admin.AdminSpec.requires admin role'] });
  });

  it('counts a case with both a failure and an error once, as errored, and honours status="notrun"', () => {
    const xml = '<testsuite><testcase name="a"><failure/><error/></testcase><testcase name="b" status="notrun"/></testsuite>';
    expect(summariseJunit(xml).counted).toEqual({ tests: 2, failures: 0, errors: 1, skipped: 1 });
  });

  it('reports zero tests for an empty <testsuites/> rather than inventing a pass', () => {
    expect(summariseJunit('<testsuites/>')).toMatchObject({ tests: { passed: 0, failed: 0, skipped: 0 }, declared: null, suites: 0 });
  });

  it('rejects XML that is not well-formed, naming the line', () => {
    const err = thrownBy(() => summariseJunit('<testsuite>\n<testcase name="a">\n</testsuite>'));
    expect(isChangegateError(err, 'CG_EVENT_INVALID')).toBe(true);
    expect(err).toMatchObject({ details: { format: 'junit', field: 'xml' } });
    expect((err as { details: { line: number } }).details.line).toBeGreaterThan(0);
  });

  it('rejects markup the validator lets through but the parser cannot read, as not well-formed', () => {
    // Found by the property below: a declaration opened inside an element.
    const err = thrownBy(() => summariseJunit('<testsuite><testcase name="x"><!"</testcase></testsuite>'));
    expect(err).toMatchObject({ code: 'CG_EVENT_INVALID', details: { format: 'junit', field: 'xml' } });
  });

  it('rejects a document that is not a JUnit report', () => {
    const err = thrownBy(() => summariseJunit('<coverage line-rate="0.9"/>'));
    expect(err).toMatchObject({ code: 'CG_EVENT_INVALID', details: { field: 'testsuites' } });
  });

  it('never crashes on arbitrary text: a summary or CG_EVENT_INVALID', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((inner) => `<testsuite><testcase name="x">${inner}</testcase></testsuite>`)), (xml) => {
        expect([true, 'invalid']).toContain(outcomeOf(() => summariseJunit(xml).counted.tests >= 0));
      }),
    );
  });
});
