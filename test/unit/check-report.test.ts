// What `changegate check` prints about the moves open from where a change is:
// a standard change standing in Authorize (a JSM site has one workflow for
// every type) has moves, and only a final state is called one.

import { describe, expect, it } from 'vitest';
import { renderAssessment } from '../../src/cli/check-report.ts';
import { assess } from '../../src/policy/assess.ts';
import { nextStates } from '../../src/policy/lifecycle.ts';
import { context, mirrored } from './policy/policy-fixtures.ts';

const AT = '2026-03-10T22:05:00Z';

function report(type: 'standard' | 'normal', state: 'authorize' | 'closed'): string {
  const mc = mirrored({ type, state });
  return renderAssessment(assess(mc, context(AT)), nextStates(type, state), false);
}

describe('check report: next transitions', () => {
  it('lists the moves of a standard change waiting in Authorize instead of calling it final', () => {
    const text = report('standard', 'authorize');
    expect(text).not.toContain('final state');
    expect(text).toMatch(/next transitions from authorize:\n\s*TO\s+ALLOWED\s+BLOCKED BY\n\s*new\b[\s\S]*\n\s*scheduled\b[\s\S]*\n\s*canceled\b/);
  });

  it('calls a closed change final', () => {
    expect(report('normal', 'closed')).toContain('next transitions from closed:\n  (none: closed is a final state)');
  });
});
