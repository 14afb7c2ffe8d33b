import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { severityForScore, summariseSarif } from '../../../src/events/results/sarif.ts';
import { fixtureBytes, fixtureJson } from '../../support/source-delivery.ts';

const NAME = 'CONSTRUCTED-sarif-codeql-trivy.sarif.json';

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

describe('SARIF logs', () => {
  it('counts open findings by security severity where rules carry one, else by level', () => {
    expect(summariseSarif(fixtureBytes(NAME))).toEqual({
      // CodeQL: sql-injection 8.8 -> high, unused variable note -> low, accepted suppression skipped,
      // under-review suppression counted (7.5 -> high). Trivy: 7.5 high, 9.1 critical, 5.3 medium; absent skipped.
      findings: { critical: 1, high: 3, medium: 1, low: 1, info: 0 },
      byLevel: { error: 3, warning: 2, note: 1, none: 0 },
      total: 6,
      tools: ['CodeQL', 'Trivy'],
    });
  });

  it('takes the level from the rule default, then warning; finds the rule by id when there is no index', () => {
    const log = {
      version: '2.1.0',
      runs: [{
        tool: { driver: { name: 'semgrep', rules: [{ id: 'r1', defaultConfiguration: { level: 'error' } }] } },
        results: [{ ruleId: 'r1', message: { text: 'a' } }, { ruleId: 'unknown-rule', message: { text: 'b' } }, { kind: 'pass', level: 'error' }, { kind: 'review' }],
      }],
    };
    expect(summariseSarif(log)).toMatchObject({ byLevel: { error: 1, warning: 1 }, findings: { high: 1, medium: 1 }, total: 2 });
  });

  it('maps security-severity scores the way GitHub code scanning does', () => {
    expect([10, 9.0, 8.9, 7.0, 6.9, 4.0, 3.9, 0.1, 0].map(severityForScore)).toEqual(['critical', 'critical', 'high', 'high', 'medium', 'medium', 'low', 'low', 'info']);
  });

  it('tolerates runs without results, tools without names and unknown properties', () => {
    expect(summariseSarif({ version: '2.1.0', runs: [{ tool: { driver: {} } }, { results: [{ level: 'note', extra: 1 }] }], inlineExternalProperties: [] })).toMatchObject({ total: 1, tools: [], findings: { low: 1 } });
  });

  it.each([
    ['log', 'not json {'],
    ['version', { version: '2.0.0', runs: [] }],
    ['runs', { version: '2.1.0' }],
    ['runs[0]', { version: '2.1.0', runs: ['x'] }],
    ['runs[0].results[1].level', { version: '2.1.0', runs: [{ results: [{}, { level: 'fatal' }] }] }],
  ])('rejects a log without a usable %s with CG_EVENT_INVALID naming it', (field, log) => {
    const err = thrownBy(() => summariseSarif(log));
    expect(isChangegateError(err, 'CG_EVENT_INVALID')).toBe(true);
    expect((err as { details: { field: string } }).details.field).toBe(field);
  });

  it('accepts the log as parsed JSON, text or bytes alike', () => {
    expect(summariseSarif(fixtureJson(NAME))).toEqual(summariseSarif(fixtureBytes(NAME).toString('utf8')));
  });

  it('never crashes on arbitrary JSON: a summary or CG_EVENT_INVALID', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect([true, 'invalid']).toContain(outcomeOf(() => summariseSarif({ version: '2.1.0', runs: [value] }).total >= 0));
      }),
    );
  });
});
