// The Forge validator's Jira expression (connectors/jira/plugin/validator-expression.jira)
// evaluated as JavaScript: the subset it uses (top-level `let`, ternaries, arrow
// callbacks, list filter/some/every/map/join, string toLowerCase/slice/match,
// new Date().getTime()) means the same in both languages. test/unit/jira-plugin.test.ts
// fails if the expression ever reaches outside that subset, because then this
// evaluation would stop being faithful.
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';

export const PLUGIN_DIR = new URL('../../connectors/jira/plugin/', import.meta.url);
export const validatorExpression = readFileSync(new URL('validator-expression.jira', PLUGIN_DIR), 'utf8');
export const AGE_KNOB = 'let maxAgeMs = 0;';
/** The clock the expression's `new Date()` reads. */
export const VALIDATOR_NOW = Date.parse('2026-11-27T12:00:00Z');

/** A comment as a Jira expression sees it: one typed on the transition screen is not saved yet, so it has no id. */
export interface ExpressionComment {
  id: string | null;
  body: { plainText: string };
}

/** The work item as transitioned: what the transition screen set, as far as Jira exposes it to the expression. */
export interface TransitionedIssue {
  comments?: ExpressionComment[];
  resolution?: { name: string } | null;
}

/** A comment typed on the transition screen, as the expression would see it if Jira exposes it. */
export const screenComment = (plainText: string): ExpressionComment => ({ id: null, body: { plainText } });
/** A comment saved before the transition. */
export const savedComment = (id: string, plainText: string): ExpressionComment => ({ id, body: { plainText } });

/** Evaluates the shipped expression; `maxAgeMs` sets the documented age knob as an admin would edit it. */
export function evaluateValidator(property: unknown, toStatus: string, maxAgeMs = 0, issue: TransitionedIssue = {}): unknown {
  if (!validatorExpression.includes(AGE_KNOB)) throw new Error(`the expression no longer contains ${AGE_KNOB}`);
  const source = validatorExpression.replace(AGE_KNOB, `let maxAgeMs = ${maxAgeMs};`);
  const lastLet = source.lastIndexOf('\nlet ');
  const split = source.indexOf(';\n', lastLet) + 1;
  const program = `(() => { ${source.slice(0, split)} return (${source.slice(split)}); })()`;
  class JiraDate extends Date {
    constructor(...args: [] | [string]) {
      if (args.length === 0) super(VALIDATOR_NOW);
      else super(args[0]);
    }
  }
  const properties: Record<string, unknown> = property === undefined ? {} : { 'changegate.verdict': property };
  const fields = { comments: issue.comments ?? [], resolution: issue.resolution ?? null };
  return runInNewContext(program, { issue: { properties, ...fields }, transition: { to: { name: toStatus } }, Date: JiraDate });
}
