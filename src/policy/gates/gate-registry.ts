// Every built-in gate, in the order assessments list them within a state.

import type { CanonicalState } from '../../domain/change.ts';
import { RULES, type BuiltInRuleId } from '../rule-catalog.ts';
import { APPROVAL_GATES } from './approval-gates.ts';
import { CLOSURE_GATES } from './closure-gates.ts';
import { DELIVERY_GATES } from './delivery-gates.ts';
import type { GateDef } from './gate.ts';
import { PLANNING_GATES } from './planning-gates.ts';

export const BUILT_IN_GATES: readonly GateDef[] = [...PLANNING_GATES, ...APPROVAL_GATES, ...DELIVERY_GATES, ...CLOSURE_GATES];

export function gateInto(id: BuiltInRuleId): CanonicalState {
  return RULES[id].into;
}
