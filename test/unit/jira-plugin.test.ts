// The Forge plugin: the validator's Jira expression evaluated as JavaScript
// (test/support/jira-validator.ts), the manifest and the Automation template.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { notePattern } from '../../connectors/jira/jira-writer.ts';
import { evaluateValidator as evaluate, PLUGIN_DIR as dir, savedComment, screenComment, validatorExpression as expression } from '../support/jira-validator.ts';

const manifest = parse(readFileSync(new URL('manifest.yml', dir), 'utf8')) as Record<string, unknown>;
const automation = JSON.parse(readFileSync(new URL('automation-rule-template.json', dir), 'utf8')) as Record<string, unknown>;

interface Entry {
  to: string;
  toStatus: string;
  allowed: boolean;
  reasons: string[];
  clearedBySave?: string[][];
}

const verdict = (allowedTransitions: Entry[], assessedAt = '2026-11-27T11:40:00Z') => ({ verdict: 'blocked', allowedTransitions, policyVersion: 'p-7', assessedAt });
const TRANSITIONS: Entry[] = [
  { to: 'scheduled', toStatus: 'Awaiting implementation', allowed: false, reasons: ['CAB approval missing (scheduled.approvals)', 'CAB scorecard is No-Go (scheduled.cab-scorecard)'] },
  { to: 'canceled', toStatus: 'Canceled', allowed: true, reasons: [] },
];

describe('Forge workflow validator expression', () => {
  it('allows a transition the verdict lists as allowed, matching the status name case-insensitively', () => {
    expect(evaluate(verdict(TRANSITIONS), 'Canceled')).toBe(true);
    expect(evaluate(verdict(TRANSITIONS), 'CANCELED')).toBe(true);
  });

  it('denies a transition the verdict blocks, with the reasons as the error message', () => {
    expect(evaluate(verdict(TRANSITIONS), 'Awaiting implementation')).toBe(
      'changegate: moving to Awaiting implementation is not allowed: CAB approval missing (scheduled.approvals); CAB scorecard is No-Go (scheduled.cab-scorecard) (policy p-7).',
    );
  });

  it('denies a status the verdict does not list at all', () => {
    expect(evaluate(verdict(TRANSITIONS), 'Completed')).toBe(
      'changegate: moving to Completed is not allowed: the release policy offers no transition to it from the current status (policy p-7).',
    );
  });

  it('fails open when changegate has not written a verdict yet', () => {
    expect(evaluate(undefined, 'Completed')).toBe(true);
  });

  it('enforces an old verdict while no age limit is set (the shipped setting)', () => {
    expect(evaluate(verdict(TRANSITIONS, '2026-10-01T08:00:00Z'), 'Awaiting implementation')).toMatch(/^changegate: moving to Awaiting implementation is not allowed/);
  });

  it('with an age limit, fails open on an older verdict and enforces one just inside it', () => {
    const day = 86_400_000;
    expect(evaluate(verdict(TRANSITIONS, '2026-11-26T11:59:59Z'), 'Awaiting implementation', day)).toBe(true);
    expect(evaluate(verdict(TRANSITIONS, '2026-11-26T12:00:01Z'), 'Awaiting implementation', day)).toMatch(/^changegate: moving to Awaiting implementation is not allowed/);
  });

  it('ignores entries without a status name instead of failing the whole evaluation', () => {
    const partial = verdict([{ to: 'review', toStatus: null as unknown as string, allowed: true, reasons: [] }, ...TRANSITIONS]);
    expect(evaluate(partial, 'Canceled')).toBe(true);
  });

  describe('a blocked move whose blocking rules the transition itself can clear (clearedBySave)', () => {
    // As changegate writes it for Canceled when the only block is the missing reason (canceled.reason), and for a closure with a close code.
    const CANCEL = notePattern('cancel');
    const CLEARABLE: Entry[] = [
      { to: 'canceled', toStatus: 'Canceled', allowed: false, reasons: ['No cancellation reason'], clearedBySave: [[`note:${CANCEL}`]] },
      { to: 'closed', toStatus: 'Completed', allowed: false, reasons: ['Close code not set'], clearedBySave: [['resolution']] },
    ];
    const cancel = (issue: Parameters<typeof evaluate>[3]) => evaluate(verdict(CLEARABLE), 'Canceled', 0, issue);

    it('allows it when a comment typed on the transition screen says it cancels', () => {
      expect(cancel({ comments: [screenComment('Cancelled: the vendor pulled the 4.2 release.')] })).toBe(true);
      expect(cancel({ comments: [savedComment('10001', 'Planned for Friday.'), screenComment('We CANCEL this one, budget gone.')] })).toBe(true);
    });

    it('still refuses it when nothing typed on the screen says so, when it is negated, or when only a saved comment does', () => {
      const refused = /^changegate: moving to Canceled is not allowed: No cancellation reason/;
      expect(cancel({})).toMatch(refused);
      expect(cancel({ comments: [screenComment('Rebooked for next week.')] })).toMatch(refused);
      expect(cancel({ comments: [screenComment('Please do not cancel yet.')] })).toMatch(refused);
      expect(cancel({ comments: [screenComment('We won\u2019t cancel it.')] })).toMatch(refused);
      // A comment saved before the transition was in the verdict already: it is not read again.
      expect(cancel({ comments: [savedComment('10001', 'The vendor may cancel.')] })).toMatch(refused);
    });

    it('allows a closure when the transition screen sets the resolution, and never a move without clearedBySave', () => {
      expect(evaluate(verdict(CLEARABLE), 'Completed', 0, { resolution: { name: 'Done' } })).toBe(true);
      expect(evaluate(verdict(CLEARABLE), 'Completed', 0, { resolution: null })).toMatch(/^changegate: moving to Completed is not allowed/);
      expect(evaluate(verdict(TRANSITIONS), 'Awaiting implementation', 0, { comments: [screenComment('cancel')], resolution: { name: 'Done' } })).toMatch(/is not allowed/);
    });
  });

  it('stays inside the Jira-expression subset this evaluation mirrors, and inside the size limit', () => {
    const code = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
    const methods = new Set([...code.matchAll(/\.(\w+)\(/g)].map((m) => m[1]));
    // slice(0, n) and match(pattern) != null (a pattern with no flags) mean the same in Jira expressions and JavaScript.
    expect([...methods].toSorted()).toEqual(['every', 'filter', 'getTime', 'join', 'map', 'match', 'slice', 'some', 'toLowerCase']);
    expect([...code.matchAll(/\bnew (\w+)/g)].map((m) => m[1])).toEqual(['Date', 'Date']);
    const roots = new Set([...code.matchAll(/(?<![.\w])([A-Za-z_]\w*)\s*[.[]/g)].map((m) => m[1]));
    expect([...roots].toSorted()).toEqual(['c', 'entries', 'issue', 'l', 't', 'transition', 'verdict', 'x']);
    expect(code).not.toMatch(/\bfunction\b|`|\?\?|\?\./);
    // Jira rejects expressions over 1,000 characters (the analyse API's documented error).
    expect(expression.trim().length).toBeLessThanOrEqual(1000);
  });
});

describe('Forge manifest', () => {
  const modules = manifest['modules'] as Record<string, Array<Record<string, unknown>>>;
  const validators = modules['jira:workflowValidator'] ?? [];

  it('declares one expression-only workflow validator whose expression is validator-expression.jira', () => {
    expect(validators).toHaveLength(1);
    const v = validators[0] as Record<string, unknown>;
    expect(String(v['key'])).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(typeof v['name']).toBe('string');
    expect(typeof v['description']).toBe('string');
    expect(v['function']).toBeUndefined();
    expect(String(v['expression']).trim()).toBe(expression.trim());
    expect(String(v['errorMessage'])).toMatch(/changegate/);
    expect(v['projectTypes']).toEqual(['company-managed', 'team-managed']);
  });

  it('has the required app id, runtime and permissions, and no functions to deploy', () => {
    const app = manifest['app'] as Record<string, Record<string, unknown>>;
    expect(String(app['id'])).toMatch(/^ari:cloud:ecosystem::app\//);
    expect(app['runtime']?.['name']).toMatch(/^nodejs\d+\.x$/);
    expect((manifest['permissions'] as Record<string, string[]>)['scopes']).toContain('read:jira-work');
    expect(modules['function']).toBeUndefined();
  });

  it('indexes the verdict property for JQL filters on boards', () => {
    const index = (modules['jira:entityProperty'] ?? [])[0] ?? {};
    expect(index['propertyKey']).toBe('changegate.verdict');
    expect((index['values'] as Array<Record<string, string>>).map((v) => [v['path'], v['type']])).toEqual([
      ['verdict', 'string'],
      ['policyVersion', 'string'],
      ['assessedAt', 'date'],
    ]);
  });
});

describe('Automation rule template', () => {
  type Component = Record<string, unknown> & { type: string; value: Record<string, unknown>; children: Component[]; conditions: Component[] };
  const rule = (automation['rules'] as Array<Record<string, unknown>>)[0] ?? {};
  const components = (rule['components'] ?? []) as Component[];

  it('is marked reactive, imports disabled and cannot trigger itself when it moves the work item back', () => {
    expect(String(rule['description'])).toMatch(/REACTIVE, NOT A GATE.*cannot veto/);
    expect(rule['state']).toBe('DISABLED');
    expect(rule['canOtherRuleTrigger']).toBe(false);
    expect((rule['trigger'] as Component).type).toBe('jira.issue.event.trigger:transitioned');
  });

  it('asks POST /v1/validate with the transition and waits for the answer', () => {
    const call = components[0] as Component;
    expect(call.type).toBe('jira.issue.outgoing.webhook');
    expect(call.value['url']).toMatch(/\/v1\/validate$/);
    expect(call.value['method']).toBe('POST');
    expect(call.value['responseEnabled']).toBe(true);
    expect(JSON.parse(String(call.value['customBody']))).toEqual({ system: 'jira', instance: 'jsm-cloud', key: '{{issue.key}}', from: '{{fromStatus.name}}', to: '{{toStatus.name}}' });
  });

  it('comments and moves the work item back only when changegate denies', () => {
    const branch = (components[1] as Component).children[0] as Component;
    expect(branch.conditions[0]?.value).toEqual({ first: '{{webResponse.body.allow}}', operator: 'EQUALS', second: 'false' });
    expect(branch.children.map((c) => c.type)).toEqual(['jira.issue.comment', 'jira.issue.transition']);
    expect(String(branch.children[0]?.value['comment'])).toContain('{{webResponse.body.reasons.join("; ")}}');
    expect(branch.children[1]?.value['destinationStatus']).toEqual({ type: 'NAME', value: '{{fromStatus.name}}' });
  });
});
