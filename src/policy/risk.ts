// Impact × probability risk matrix (seed §3.1) and release classification
// (seed §1.3). Both are pure lookups over configuration.
//
// Classification rule (documented in the policy README):
//   emergency type                                   → emergency
//   standard type (pre-approved, routine)            → minor
//   normal type, impact in `majorImpact`
//            or risk level in `majorRisk`            → major
//   normal type, neither impact nor risk known       → major when `unknownIsMajor`
//   any other normal change                          → minor

import type { Change, Classification, Level } from '../domain/change.ts';
import type { RiskAssessment } from '../domain/assessment.ts';
import type { ClassificationConfig } from './rule-catalog.ts';

/** Ascending, so the rank is index + 1. */
export const LEVEL_ORDER: readonly Level[] = ['low', 'medium', 'high', 'very_high'];

export function levelRank(level: Level): number {
  return LEVEL_ORDER.indexOf(level) + 1;
}

export function levelLabel(level: Level): string {
  return level.replace('_', ' ');
}

/** Rows by impact, columns by probability in LEVEL_ORDER. */
export type RiskMatrix = Record<Level, [Level, Level, Level, Level]>;

export const DEFAULT_RISK_MATRIX: RiskMatrix = {
  low: ['low', 'low', 'medium', 'medium'],
  medium: ['low', 'medium', 'medium', 'high'],
  high: ['medium', 'medium', 'high', 'very_high'],
  very_high: ['medium', 'high', 'very_high', 'very_high'],
};

export function assessRisk(change: Change, matrix: RiskMatrix): RiskAssessment {
  const { impact, probability, level: stated } = change.risk;
  if (impact !== null && probability !== null) {
    const level = matrix[impact][levelRank(probability) - 1] as Level;
    return { impact, probability, stated, level, score: levelRank(impact) * levelRank(probability), cell: `${impact}×${probability}`, source: 'matrix' };
  }
  return { impact, probability, stated, level: stated, score: null, cell: null, source: stated === null ? 'none' : 'stated' };
}

export function classify(change: Change, risk: RiskAssessment, config: ClassificationConfig): Classification {
  if (change.type === 'emergency') return 'emergency';
  if (change.type === 'standard') return 'minor';
  if (risk.impact !== null && config.majorImpact.includes(risk.impact)) return 'major';
  if (risk.level !== null && config.majorRisk.includes(risk.level)) return 'major';
  if (risk.impact === null && risk.level === null && config.unknownIsMajor) return 'major';
  return 'minor';
}

/** One sentence for reasons and the scorecard. */
export function describeRisk(risk: RiskAssessment): string {
  if (risk.source === 'matrix') {
    const base = `impact ${levelLabel(risk.impact as Level)} × probability ${levelLabel(risk.probability as Level)} gives ${levelLabel(risk.level as Level)} risk (score ${risk.score} of 16)`;
    if (risk.stated !== null && risk.stated !== risk.level) {
      return `${base}; the ticket states ${levelLabel(risk.stated)}, the matrix level is used`;
    }
    return base;
  }
  const missing = [risk.impact === null ? 'impact' : null, risk.probability === null ? 'probability' : null].filter((m) => m !== null).join(' and ');
  const verb = missing.includes(' and ') ? 'are' : 'is';
  if (risk.source === 'stated') {
    return `${missing} ${verb} not set, so the stated risk level ${levelLabel(risk.level as Level)} is used`;
  }
  return `no risk level: ${missing} ${verb} not set and the ticket states no risk`;
}
