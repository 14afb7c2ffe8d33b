// Runs the shipped business rule script in a fresh node:vm context against a
// small emulation of the Glide API surface it uses. Every object is a plain
// record of the methods ServiceNow documents; a call to anything else throws,
// so the script cannot quietly depend on something the emulation lacks.
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BUSINESS_RULE_PATH } from '../../connectors/servicenow/plugin/build-update-set.ts';
import { NEGATION_WORDS } from '../../src/kit/note-negations.ts';
import { mentions } from '../../src/policy/note-markers.ts';

const SCRIPT = readFileSync(BUSINESS_RULE_PATH, 'utf8');
const NOW = Date.parse('2026-11-27T12:00:00Z');

type Fields = Record<string, string>;

interface HttpAnswer {
  status?: number;
  body?: string;
  /** Thrown from execute(), as RESTMessageV2 does on a connection timeout. */
  throws?: string;
}

interface Scenario {
  before: Fields;
  after: Fields;
  properties?: Fields;
  user?: string;
  http?: HttpAnswer;
  /** Text typed into a journal field in this save (work_notes, comments): what current.<field> holds then. */
  typed?: Fields;
}

interface Request {
  name: string;
  method: string;
  endpoint: string;
  timeoutMs: number;
  headers: Fields;
  body: string;
}

function glideDate(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) throw new Error(`GlideDateTime got ${text}, which is not yyyy-MM-dd HH:mm:ss`);
  return Date.parse(`${match.slice(1, 4).join('-')}T${match.slice(4, 7).join(':')}Z`);
}

function record(fields: Fields) {
  return { getValue: (name: string): string | null => fields[name] ?? null };
}

/** A GlideElement: changes() against the record as saved, its text as toString(). */
const element = (value: string, changed: boolean) => ({ changes: () => changed, toString: () => value });

function run(s: Scenario) {
  const errors: string[] = [];
  const warnings: string[] = [];
  const requests: Request[] = [];
  let aborted = false;
  const after = { ...s.before, ...s.after };
  const elements = Object.fromEntries(Object.keys(after).map((name) => [name, element(after[name] ?? '', after[name] !== s.before[name])]));
  const journal = Object.fromEntries(Object.entries(s.typed ?? {}).map(([name, text]) => [name, element(text, true)]));
  const current = {
    ...elements,
    ...journal,
    ...record(after),
    setAbortAction: (flag: boolean) => {
      aborted = flag;
    },
  };
  const properties: Fields = { instance_name: 'acme', ...s.properties };
  const gs = {
    getProperty: (name: string, fallback?: string) => properties[name] ?? fallback,
    getUserName: () => s.user ?? 'beth.anglin',
    addErrorMessage: (message: string) => errors.push(message),
    warn: (message: string) => warnings.push(message),
  };
  class GlideDateTime {
    readonly ms: number;
    constructor(text?: string) {
      this.ms = text === undefined ? NOW : glideDate(text);
    }
    getNumericValue() {
      return this.ms;
    }
  }
  class RESTMessageV2 {
    readonly request: Request;
    constructor(name: string, method: string) {
      this.request = { name, method, endpoint: '', timeoutMs: 0, headers: {}, body: '' };
      requests.push(this.request);
    }
    setEndpoint(url: string) {
      this.request.endpoint = url;
    }
    setHttpTimeout(ms: number) {
      this.request.timeoutMs = ms;
    }
    setRequestHeader(name: string, value: string) {
      this.request.headers[name] = value;
    }
    setRequestBody(body: string) {
      this.request.body = body;
    }
    execute() {
      const answer = s.http ?? { throws: 'no HTTP answer scripted' };
      if (answer.throws !== undefined) throw new Error(answer.throws);
      const status = answer.status ?? 200;
      return {
        getStatusCode: () => status,
        getBody: () => answer.body ?? '',
        haveError: () => status >= 400,
        getErrorMessage: () => (status >= 400 ? `HTTP ${status}` : null),
      };
    }
  }
  runInNewContext(SCRIPT, { current, previous: record(s.before), gs, GlideDateTime, sn_ws: { RESTMessageV2 } }, { filename: 'changegate-business-rule.js' });
  return { aborted, errors, warnings, requests };
}

const VERDICT: Fields = {
  number: 'CHG0030001',
  state: '-4',
  u_changegate_verdict: 'blocked',
  u_changegate_allowed: '-5,4',
  // The writer's format: one line per blocked move, then the current state's failing checks.
  u_changegate_reasons: '-3 (authorize): backout plan is missing (authorize.plans)\n-2 (scheduled): not a transition of the normal change lifecycle\nin assess: requester is not set (assess.requester)',
  u_changegate_policy_version: 'p-7',
  u_changegate_assessed_at: '2026-11-27 11:30:00',
};
const CALLOUT: Fields = { 'x_changegate.validate_mode': 'callout', 'x_changegate.url': 'https://cg.example.com/', 'x_changegate.instance_id': 'sn-prod', 'x_changegate.timeout_ms': '2500' };
const answer = (body: object): HttpAnswer => ({ status: 200, body: JSON.stringify(body) });

describe('changegate business rule: verdict fields', () => {
  it('lets an allowed transition through without a word', () => {
    const r = run({ before: VERDICT, after: { state: '4' } });
    expect(r).toEqual({ aborted: false, errors: [], warnings: [], requests: [] });
  });

  it('aborts a blocked transition and tells the user why and what is allowed next', () => {
    const r = run({ before: VERDICT, after: { state: '-3' } });
    expect(r.aborted).toBe(true);
    expect(r.errors).toEqual([
      'changegate blocked Assess \u2192 Authorize: backout plan is missing (authorize.plans). Allowed next: New, Canceled (policy p-7, assessed 2026-11-27 11:30:00 UTC).',
    ]);
  });

  it('judges by the verdict as saved, not by verdict fields edited in the same save', () => {
    const r = run({ before: VERDICT, after: { state: '-3', u_changegate_allowed: '-3' } });
    expect(r.aborted).toBe(true);
  });

  it('shows every reason line when none names the attempted state', () => {
    const r = run({ before: VERDICT, after: { state: '0' } });
    expect(r.errors[0]).toContain('changegate blocked Assess \u2192 Review: -3 (authorize): backout plan is missing (authorize.plans); -2 (scheduled):');
  });

  it('enforces an old verdict while no age limit is set (the default)', () => {
    const r = run({ before: { ...VERDICT, u_changegate_assessed_at: '2026-10-01 08:00:00' }, after: { state: '-3' } });
    expect(r.aborted).toBe(true);
  });

  it('falls back to the fail mode when the verdict is older than the configured limit', () => {
    const stale = { ...VERDICT, u_changegate_assessed_at: '2026-11-25 12:00:00' };
    const limit = { 'x_changegate.max_verdict_age_minutes': '1440' };
    const open = run({ before: stale, after: { state: '-3' }, properties: limit });
    expect(open.aborted).toBe(false);
    expect(open.warnings).toEqual(['changegate let CHG0030001 Assess \u2192 Authorize through unchecked (fail-open): the changegate verdict is 2880 minutes old (limit 1440)']);
    const closed = run({ before: stale, after: { state: '4' }, properties: { ...limit, 'x_changegate.fail_mode': 'closed' } });
    expect(closed.aborted).toBe(true);
    expect(closed.errors[0]).toContain('the changegate verdict is 2880 minutes old (limit 1440)');
    expect(closed.errors[0]).toContain('The change stays in Assess (fail-closed)');
  });

  it('honours a shorter configured age and treats a change without a verdict like a stale one', () => {
    const r = run({ before: VERDICT, after: { state: '4' }, properties: { 'x_changegate.max_verdict_age_minutes': '10', 'x_changegate.fail_mode': 'closed' } });
    expect(r.errors[0]).toContain('the changegate verdict is 30 minutes old (limit 10)');
    const none = run({ before: { number: 'CHG1', state: '-5' }, after: { state: '-4' }, properties: { 'x_changegate.fail_mode': 'closed' } });
    expect(none.aborted).toBe(true);
    expect(none.errors[0]).toContain('there is no changegate verdict on this change yet');
  });
});

describe('changegate business rule: verdict fields and a reason typed in the same save', () => {
  // As the service writes it for a change whose only block on Canceled is the missing reason (canceled.reason).
  const REASON = { ...VERDICT, u_changegate_allowed: '-5', u_changegate_allowed_with_reason: '{"4":[["close_notes","note:cancel"]],"3":[["close_code"],["close_notes"]]}' };

  it('still blocks a cancellation that carries no reason', () => {
    const r = run({ before: REASON, after: { state: '4' } });
    expect(r.aborted).toBe(true);
    expect(r.errors[0]).toContain('changegate blocked Assess \u2192 Canceled');
  });

  it('lets a cancellation through when the same save fills in the close notes', () => {
    expect(run({ before: REASON, after: { state: '4', close_notes: 'Vendor pulled the release.' } })).toEqual({ aborted: false, errors: [], warnings: [], requests: [] });
    expect(run({ before: REASON, after: { state: '4', close_notes: '   ' } }).aborted).toBe(true);
  });

  it('lets it through when a work note or comment typed in the same save says it cancels, not when it says otherwise', () => {
    expect(run({ before: REASON, after: { state: '4' }, typed: { work_notes: 'Cancelled: the vendor pulled 4.2.' } }).aborted).toBe(false);
    expect(run({ before: REASON, after: { state: '4' }, typed: { comments: 'We CANCEL this one, budget gone.' } }).aborted).toBe(false);
    expect(run({ before: REASON, after: { state: '4' }, typed: { work_notes: 'Rebooked for next week.' } }).aborted).toBe(true);
    expect(run({ before: REASON, after: { state: '4' }, typed: { work_notes: 'Please do not cancel yet.' } }).aborted).toBe(true);
    expect(run({ before: REASON, after: { state: '4' }, typed: { work_notes: 'We won\u2019t cancel it.' } }).aborted).toBe(true);
  });

  it('knows the same negation words as the service', () => {
    const list = /var NEGATIONS = \{([^}]*)\}/.exec(SCRIPT)?.[1] ?? '';
    const words = [...list.matchAll(/([a-z]+): 1/g)].map((m) => m[1]);
    expect(words.toSorted()).toEqual([...NEGATION_WORDS].toSorted());
  });

  // The script carries its own copy of the service's note reading (it runs inside ServiceNow): the two must agree,
  // or a save the rule lets through would be judged unexplained by the service afterwards, or the reverse.
  it.each([
    'Cancelled: the vendor pulled 4.2.',
    'do not cancel',
    'No, cancel it.',
    'not going to cancel',
    'not going to keep it, so we cancel',
    'Cancel: no budget left',
    'we can\u2019t cancel',
    'Never mind; cancel.',
    'without cancelling the rest',
    '(not) cancel',
    'CANCEL',
    'uncancelled',
    'the cancellation is off',
    'isnt cancelled',
  ])('reads the note %j as the service reads it', (note) => {
    const rule = !run({ before: REASON, after: { state: '4' }, typed: { work_notes: note } }).aborted;
    expect(rule).toBe(mentions(note, ['cancel']));
  });

  it('needs every listed field for a closure, and never unblocks a move the service did not list', () => {
    expect(run({ before: REASON, after: { state: '3', close_code: 'successful' } }).aborted).toBe(true);
    expect(run({ before: REASON, after: { state: '3', close_code: 'successful', close_notes: 'Rolled out.' } }).aborted).toBe(false);
    expect(run({ before: REASON, after: { state: '-3', close_notes: 'Cancel' }, typed: { work_notes: 'cancel' } }).aborted).toBe(true);
  });

  it('reads the list as saved, and an unreadable one as none', () => {
    expect(run({ before: VERDICT, after: { state: '-3', close_notes: 'x', u_changegate_allowed_with_reason: '{"-3":[["close_notes"]]}' } }).aborted).toBe(true);
    expect(run({ before: { ...REASON, u_changegate_allowed_with_reason: '{"4":' }, after: { state: '4', close_notes: 'x' } }).aborted).toBe(true);
    expect(run({ before: { ...REASON, u_changegate_allowed_with_reason: '{"4":[]}' }, after: { state: '4', close_notes: 'x' } }).aborted).toBe(true);
  });
});

describe('changegate business rule: callout mode', () => {
  it('asks POST /v1/validate through the "changegate validate" REST message and follows an allow', () => {
    const r = run({ before: VERDICT, after: { state: '-3' }, properties: CALLOUT, http: answer({ allow: true, reasons: [], conditions: [], policyVersion: 'p-7', stale: false }) });
    expect(r.aborted).toBe(false);
    expect(r.requests).toHaveLength(1);
    const request = r.requests[0] as Request;
    expect({ name: request.name, method: request.method, endpoint: request.endpoint, timeoutMs: request.timeoutMs }).toEqual({
      name: 'changegate validate', method: 'post', endpoint: 'https://cg.example.com/v1/validate', timeoutMs: 2500,
    });
    expect(request.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ system: 'servicenow', instance: 'sn-prod', key: 'CHG0030001', from: '-4', to: '-3' });
  });

  it('sends what the save types besides the state: changed close code and notes, a typed work note or comment and who typed it', () => {
    const allow = answer({ allow: true, reasons: [], conditions: [], policyVersion: 'p-7', stale: false, proposed: ['closeNotes'] });
    const notes = run({ before: VERDICT, after: { state: '4', close_notes: 'Vendor pulled the release.' }, properties: CALLOUT, http: allow });
    expect(notes.aborted).toBe(false);
    expect(JSON.parse((notes.requests[0] as Request).body)).toEqual({
      system: 'servicenow', instance: 'sn-prod', key: 'CHG0030001', from: '-4', to: '4', proposed: { closeNotes: 'Vendor pulled the release.' },
    });
    const note = run({ before: VERDICT, after: { state: '4' }, typed: { work_notes: 'Cancel: vendor pulled it.', comments: '  ' }, user: 'carla.manager', properties: CALLOUT, http: allow });
    expect(JSON.parse((note.requests[0] as Request).body).proposed).toEqual({ workNote: 'Cancel: vendor pulled it.', by: 'carla.manager' });
    const closing = run({ before: { ...VERDICT, state: '0', close_code: '' }, after: { state: '3', close_code: 'successful', close_notes: 'x'.repeat(5000) }, typed: { comments: 'Done.' }, properties: CALLOUT, http: allow });
    expect(JSON.parse((closing.requests[0] as Request).body).proposed).toEqual({ closeCode: 'successful', closeNotes: 'x'.repeat(4000), comment: 'Done.', by: 'beth.anglin' });
  });

  it('sends no proposal when the save carries nothing but the state, and follows a deny for a missing reason', () => {
    const deny = answer({ allow: false, reasons: ['no cancellation reason: add close notes or a work note saying why the change is canceled (canceled.reason)'], conditions: [], policyVersion: 'p-7', stale: false });
    const r = run({ before: VERDICT, after: { state: '4' }, properties: CALLOUT, http: deny });
    expect(JSON.parse((r.requests[0] as Request).body)).not.toHaveProperty('proposed');
    expect(r.aborted).toBe(true);
    expect(r.errors[0]).toContain('no cancellation reason');
  });

  it('aborts with the service reasons on a deny, whatever the verdict fields say', () => {
    const r = run({
      before: { ...VERDICT, u_changegate_allowed: '-3' },
      after: { state: '-3' },
      properties: CALLOUT,
      http: answer({ allow: false, reasons: ['CAB approval missing (scheduled.approvals)', 'freeze window FY-close'], conditions: [], policyVersion: 'p-8', stale: false }),
    });
    expect(r.aborted).toBe(true);
    expect(r.errors).toEqual(['changegate blocked Assess \u2192 Authorize: CAB approval missing (scheduled.approvals); freeze window FY-close (policy p-8).']);
  });

  it('on a timeout lets the change through when fail-open and keeps it when fail-closed', () => {
    const timeout = { throws: 'java.net.SocketTimeoutException: Read timed out' };
    const open = run({ before: VERDICT, after: { state: '-3' }, properties: CALLOUT, http: timeout });
    expect(open.aborted).toBe(false);
    expect(open.warnings[0]).toContain('fail-open');
    expect(open.warnings[0]).toContain('did not answer within 2500 ms');
    const closed = run({ before: VERDICT, after: { state: '-3' }, properties: { ...CALLOUT, 'x_changegate.fail_mode': 'closed' }, http: timeout });
    expect(closed.aborted).toBe(true);
    expect(closed.errors[0]).toContain('changegate could not confirm Assess \u2192 Authorize: changegate did not answer within 2500 ms');
  });

  it('treats an HTTP error, an unreadable body and a missing URL like no answer', () => {
    const closed = { ...CALLOUT, 'x_changegate.fail_mode': 'closed' };
    expect(run({ before: VERDICT, after: { state: '4' }, properties: closed, http: { status: 503, body: 'down' } }).errors[0]).toContain('changegate answered HTTP 503');
    expect(run({ before: VERDICT, after: { state: '4' }, properties: closed, http: { status: 200, body: '<html>' } }).errors[0]).toContain('unreadable answer');
    const noUrl = run({ before: VERDICT, after: { state: '4' }, properties: { 'x_changegate.validate_mode': 'callout', 'x_changegate.fail_mode': 'closed' } });
    expect(noUrl.errors[0]).toContain('x_changegate.url is not set');
    expect(noUrl.requests).toEqual([]);
  });

  it('does not take an allow from a stale mirror as proof when fail-closed', () => {
    const stale = answer({ allow: true, reasons: [], conditions: [], policyVersion: 'p-7', stale: true });
    expect(run({ before: VERDICT, after: { state: '-3' }, properties: CALLOUT, http: stale }).aborted).toBe(false);
    const closed = run({ before: VERDICT, after: { state: '-3' }, properties: { ...CALLOUT, 'x_changegate.fail_mode': 'closed' }, http: stale });
    expect(closed.aborted).toBe(true);
    expect(closed.errors[0]).toContain('stale copy');
  });

  it('clamps the timeout below ServiceNow\'s 30 s outbound cap and falls back to the instance name', () => {
    const r = run({ before: VERDICT, after: { state: '4' }, properties: { ...CALLOUT, 'x_changegate.timeout_ms': '90000', 'x_changegate.instance_id': '' }, http: answer({ allow: true, policyVersion: 'p' }) });
    const request = r.requests[0] as Request;
    expect(request.timeoutMs).toBe(25000);
    expect(JSON.parse(request.body)).toMatchObject({ instance: 'acme' });
  });
});

describe('changegate business rule: when it stays out of the way', () => {
  it('does nothing when the state did not change', () => {
    const r = run({ before: VERDICT, after: { short_description: 'typo fixed' }, properties: { ...CALLOUT, 'x_changegate.fail_mode': 'closed' } });
    expect(r).toEqual({ aborted: false, errors: [], warnings: [], requests: [] });
  });

  it('never blocks the changegate integration account, so its corrective moves go through', () => {
    const r = run({ before: VERDICT, after: { state: '-3' }, user: 'svc.changegate', properties: { 'x_changegate.bypass_users': 'admin, svc.changegate' } });
    expect(r).toEqual({ aborted: false, errors: [], warnings: [], requests: [] });
  });
});

describe('changegate business rule: what ServiceNow can run', () => {
  // Strip comments, strings and regex literals so only code is checked.
  const code = SCRIPT.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '').replace(/'(?:[^'\\\n]|\\.)*'/g, "''").replace(/\/(?:[^/\\\n]|\\.)+\/[gim]*/g, '/r/');

  it.each([
    ['let', /\blet\s/],
    ['const', /\bconst\s/],
    ['arrow functions', /=>/],
    ['template strings', /`/],
    ['classes', /\bclass\s/],
    ['spread', /\.\.\./],
    // String#indexOf is ES1; arrays go through the script's own contains().
    ['ES5+ array methods', /\.(map|filter|forEach|some|every|reduce|includes|find)\(/],
    ['String#trim', /\.trim\(/],
  ])('uses no %s', (_name, pattern) => {
    expect(code).not.toMatch(pattern);
  });

  it('is wrapped the way ServiceNow wraps a business rule', () => {
    expect(code).toMatch(/^\s*\(function executeRule\(current, previous\s*\) \{/);
    expect(code.trimEnd().endsWith('})(current, previous);')).toBe(true);
  });
});
