// SARIF 2.1.0 scan results as evidence: open findings by severity. Severity
// follows GitHub code scanning: a rule's `security-severity`
// property, a CVSS-like 0.0-10.0 score, decides when present (>= 9.0 critical,
// >= 7.0 high, >= 4.0 medium, > 0 low); otherwise the SARIF level does
// (error -> high, warning -> medium, note -> low, none -> info). Only results
// that are failures count: `kind` other than `fail`, suppressed results and
// results a baseline marks `absent` (fixed) are not open findings.

import type { Severity } from '../../domain/events.ts';
import { ChangegateError } from '../../errors.ts';

export type SarifLevel = 'error' | 'warning' | 'note' | 'none';

export interface SarifSummary {
  /** For CiEvent.findings: every severity present, zero included. */
  findings: Record<Severity, number>;
  byLevel: Record<SarifLevel, number>;
  /** Open findings counted (the sum of `findings`). */
  total: number;
  /** Tool names of the runs, in order (`CodeQL`, `Trivy`, `Semgrep OSS`). */
  tools: string[];
}

type Node = Record<string, unknown>;
const LEVELS = new Set<SarifLevel>(['error', 'warning', 'note', 'none']);
const LEVEL_SEVERITY: Readonly<Record<SarifLevel, Severity>> = { error: 'high', warning: 'medium', note: 'low', none: 'info' };

function invalid(field: string, problem: string, value?: unknown): ChangegateError {
  const details: Record<string, unknown> = { format: 'sarif', field };
  if (value !== undefined) details['value'] = value;
  return new ChangegateError('CG_EVENT_INVALID', `SARIF log: ${field} ${problem}`, { details });
}

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);
const nodeAt = (parent: Node, key: string): Node => (isNode(parent[key]) ? parent[key] : {});
const nodesAt = (parent: Node, key: string): Node[] => (Array.isArray(parent[key]) ? parent[key].filter(isNode) : []);

function securitySeverity(properties: Node): number | null {
  const value = properties['security-severity'];
  const score = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  return Number.isFinite(score) ? score : null;
}

export function severityForScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'info';
}

/** The rule a result points at: `ruleIndex`/`rule.index` into the driver's rules first, then by id. */
function ruleOf(result: Node, rules: Node[], byId: Map<string, Node>): Node {
  const reference = nodeAt(result, 'rule');
  const index = typeof result['ruleIndex'] === 'number' ? result['ruleIndex'] : typeof reference['index'] === 'number' ? reference['index'] : null;
  if (index !== null && rules[index] !== undefined) return rules[index];
  const id = typeof result['ruleId'] === 'string' ? result['ruleId'] : typeof reference['id'] === 'string' ? reference['id'] : null;
  return (id === null ? undefined : byId.get(id)) ?? {};
}

function isOpen(result: Node): boolean {
  const kind = typeof result['kind'] === 'string' ? result['kind'] : 'fail';
  if (kind !== 'fail') return false;
  if (result['baselineState'] === 'absent') return false;
  // A suppression under review or rejected does not hide the finding; an accepted one (the default) does.
  return !nodesAt(result, 'suppressions').some((suppression) => suppression['status'] === undefined || suppression['status'] === 'accepted');
}

function level(result: Node, rule: Node, path: string): SarifLevel {
  // SARIF 3.27.10: the result's level, else the rule's default configuration, else warning.
  const given = result['level'] ?? nodeAt(rule, 'defaultConfiguration')['level'] ?? 'warning';
  if (typeof given !== 'string' || !LEVELS.has(given as SarifLevel)) throw invalid(`${path}.level`, 'is not one of error, warning, note, none', given);
  return given as SarifLevel;
}

export function summariseSarif(log: unknown): SarifSummary {
  const document: unknown = typeof log === 'string' || Buffer.isBuffer(log) ? parseJson(log.toString()) : log;
  if (!isNode(document)) throw invalid('log', 'must be a JSON object');
  if (document['version'] !== '2.1.0') throw invalid('version', 'must be "2.1.0"', document['version'] ?? null);
  if (!Array.isArray(document['runs'])) throw invalid('runs', 'must be an array');
  const findings: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  const byLevel: Record<SarifLevel, number> = { error: 0, warning: 0, note: 0, none: 0 };
  const tools: string[] = [];
  document['runs'].forEach((run: unknown, runIndex) => {
    if (!isNode(run)) throw invalid(`runs[${runIndex}]`, 'must be an object');
    const driver = nodeAt(nodeAt(run, 'tool'), 'driver');
    if (typeof driver['name'] === 'string') tools.push(driver['name']);
    const rules = nodesAt(driver, 'rules');
    const byId = new Map(rules.flatMap((rule) => (typeof rule['id'] === 'string' ? [[rule['id'], rule] as const] : [])));
    nodesAt(run, 'results').forEach((result, resultIndex) => {
      if (!isOpen(result)) return;
      const rule = ruleOf(result, rules, byId);
      const resultLevel = level(result, rule, `runs[${runIndex}].results[${resultIndex}]`);
      // GitHub reads the score from the rule; a result-level score is the fallback some scanners write instead.
      const score = securitySeverity(nodeAt(rule, 'properties')) ?? securitySeverity(nodeAt(result, 'properties'));
      byLevel[resultLevel] += 1;
      findings[score === null ? LEVEL_SEVERITY[resultLevel] : severityForScore(score)] += 1;
    });
  });
  return { findings, byLevel, total: Object.values(findings).reduce((sum, count) => sum + count, 0), tools };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ChangegateError('CG_EVENT_INVALID', 'SARIF log: log is not JSON', { cause: err, details: { format: 'sarif', field: 'log' } });
  }
}
