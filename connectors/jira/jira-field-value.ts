// One Jira field value, whatever its shape, read as text, a reference or an
// option. Values are read by shape rather than by schema so one reader serves
// Cloud v3 (ADF rich text, users by accountId), Data Center v2 (wiki strings,
// users by name/key) and the field types apps add:
//   "text" | ADF doc | 12 | true
//   {"value": "Normal", "id": "10010"}                 select option (+ "child" when cascading)
//   {"accountId"|"key"|"name", "displayName"}          user
//   {"groupId", "name"} | {"id", "name"}               group, service, team
//   [ …any of the above ]                              multi-value fields

import type { Ref } from '../../src/domain/change.ts';
import { ChangegateError } from '../../src/errors.ts';
import { adfToPlainText, isAdfDocument } from './adf-text.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

function objectText(o: Obj): string | null {
  if (isAdfDocument(o)) return adfToPlainText(o);
  const value = str(o['value']);
  if (value !== null) {
    const child = isObj(o['child']) ? str(o['child']['value']) : null;
    return child === null ? value : `${value} / ${child}`;
  }
  return str(o['displayName']) ?? str(o['name']) ?? str(o['key']) ?? str(o['id']);
}

/** Text of any value; lists are joined with ", ". Null when empty. */
export function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const parts = value.map(textOf).filter((t): t is string => t !== null);
    return parts.length === 0 ? null : parts.join(', ');
  }
  return isObj(value) ? objectText(value) : null;
}

/** A person, group, service or option as a Ref: a stable id plus what a human reads. */
export function refOf(value: unknown): Ref | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number') return value === '' ? null : { id: String(value), name: null };
  if (!isObj(value)) return null;
  // Cloud users by accountId; Data Center users by key (stable across renames), then username.
  const id = str(value['accountId']) ?? str(value['key']) ?? str(value['groupId']) ?? str(value['id']) ?? str(value['serviceId']) ?? str(value['name']) ?? str(value['value']);
  if (id === null) return null;
  return { id, name: str(value['displayName']) ?? str(value['name']) ?? str(value['value']) };
}

export function refsOf(value: unknown): Ref[] {
  if (Array.isArray(value)) return value.map(refOf).filter((r): r is Ref => r !== null);
  const one = refOf(value);
  return one === null ? [] : [one];
}

/**
 * The option value of a single-select field ("Normal"); a plain string passes as
 * is. A list is an error: mapping one of several values would be a guess.
 */
export function optionOf(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value === '' ? null : value;
  if (isObj(value)) {
    const v = str(value['value']) ?? str(value['name']);
    if (v !== null) return v;
  }
  if (Array.isArray(value) && value.length <= 1) return optionOf(value[0], field);
  throw new ChangegateError('CG_JIRA_RECORD_INVALID', `field ${field} holds ${Array.isArray(value) ? 'several values' : 'no option value'}, expected one option of a select list`, {
    details: { field },
  });
}

/** A checkbox, select or boolean read as yes/no: true, "true"/"yes", or any ticked checkbox. */
export function flagOf(value: unknown): boolean {
  if (value === true) return true;
  if (Array.isArray(value)) {
    return value.some((v) => {
      const ticked = isObj(v) ? str(v['value']) : null;
      return ticked !== null && !/^(no|false)$/i.test(ticked.trim());
    });
  }
  const text = typeof value === 'string' ? value : isObj(value) ? str(value['value']) : null;
  return text !== null && /^(true|yes)$/i.test(text.trim());
}

/** A list of texts: labels, a multi-select, or a comma-separated text field. */
export function textListOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(textOf).filter((t): t is string => t !== null);
  const text = textOf(value);
  if (text === null) return [];
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}
