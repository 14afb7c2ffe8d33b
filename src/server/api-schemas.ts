// The shapes the API answers with, in zod: the OpenAPI document shows them and
// the contract run (schemathesis) holds the server to them. They mirror the
// domain types; `satisfies` checks below keep the two from drifting apart.

import { z } from 'zod';
import { APPROVAL_STATES, CANONICAL_STATES, CHANGE_TYPES, LEVELS, type Approval, type Change, type JournalEntry } from '../domain/change.ts';
import { ERROR_CODES, type ErrorCode, type ErrorKind } from '../errors.ts';
import type { Revision } from '../store/change-store.ts';
import { withWireSchema } from './json-schema-of.ts';

/** A query value of plain decimal digits (no sign, hex, exponent or blanks), as a number within bounds. */
export function decimalInteger(min: number, max: number): z.ZodType<number, string> {
  const schema = z
    .string()
    .regex(/^[0-9]{1,10}$/, 'expected plain decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
  return withWireSchema(schema, { type: 'integer', minimum: min, maximum: max });
}

const Ref = z.object({ id: z.string(), name: z.string().nullable() });
const Level = z.enum(LEVELS).nullable();

export const ChangeSchema = z.object({
  id: z.string(),
  system: z.string().meta({ description: 'A registered system (`servicenow`, `jira`).' }),
  instance: z.string(),
  nativeId: z.string(),
  key: z.string(),
  url: z.string(),
  title: z.string(),
  description: z.string().nullable(),
  type: z.enum(CHANGE_TYPES),
  state: z.enum(CANONICAL_STATES),
  nativeState: z.string(),
  nativeStateLabel: z.string().nullable(),
  risk: z.object({ impact: Level, probability: Level, level: Level }),
  plannedStart: z.string().nullable(),
  plannedEnd: z.string().nullable(),
  actualStart: z.string().nullable(),
  actualEnd: z.string().nullable(),
  requester: Ref.nullable(),
  assignee: Ref.nullable(),
  assignmentGroup: Ref.nullable(),
  services: z.array(Ref),
  cis: z.array(Ref),
  plans: z.object({ implementation: z.string().nullable(), backout: z.string().nullable(), test: z.string().nullable() }),
  justification: z.string().nullable(),
  approvalStatus: z.string().nullable(),
  cab: z.object({ required: z.boolean(), date: z.string().nullable(), recommendation: z.string().nullable() }),
  closeCode: z.string().nullable(),
  closeNotes: z.string().nullable(),
  links: z.object({ repos: z.array(z.string()), commits: z.array(z.string()), artifacts: z.array(z.string()), pipelines: z.array(z.string()) }),
  standIns: z
    .object({ assignmentGroup: z.enum(['affected-service', 'none']).optional(), closeNotes: z.enum(['last-comment', 'none']).optional() })
    .optional()
    .meta({ description: 'Fields the source system has no field for, and what stands in for each (`none`: nothing does); absent when every field is read from the record.' }),
  custom: z.record(z.string(), z.string().nullable()),
  createdAt: z.string(),
  updatedAt: z.string(),
  nativeRevision: z.number(),
  raw: z.unknown().optional().meta({ description: 'The source record as received; left out of list pages unless `include=raw`.' }),
});

export const ApprovalSchema = z.object({
  id: z.string(),
  approver: Ref.nullable(),
  group: Ref.nullable(),
  state: z.enum(APPROVAL_STATES),
  nativeState: z.string(),
  decidedAt: z.string().nullable(),
  comment: z.string().nullable(),
  updatedAt: z.string(),
  requestedAt: z
    .string()
    .nullable()
    .optional()
    .meta({ description: 'When the approver was asked (ServiceNow `sys_created_on`, JSM `createdDate`); null when the source gives none, absent on an approval mirrored before changegate read it.' }),
});

export const JournalEntrySchema = z.object({
  id: z.string(),
  kind: z.enum(['work_note', 'comment']),
  author: z.string(),
  at: z.string(),
  text: z.string(),
});

export const RevisionAuthorSchema = z.object({ id: z.string(), name: z.string().nullable(), email: z.string().optional() });

export const RevisionSchema = z.object({
  changeId: z.string(),
  seq: z.number().int(),
  nativeRevision: z.number(),
  updatedAt: z.string(),
  observedAt: z.string(),
  hash: z.string(),
  diff: z.array(z.object({ path: z.string(), from: z.unknown().optional(), to: z.unknown().optional() })),
  author: RevisionAuthorSchema.nullable().meta({ description: 'Who made this version, as the source names them (ServiceNow `sys_updated_by`, the Jira changelog author).' }),
  authorUnknown: z.enum(['not-recorded', 'not-named']).optional().meta({ description: 'Why `author` is null: stored before changegate kept authors, or the source named nobody.' }),
});

// Compile-time: the schemas accept what the domain produces.
type Accepts<S extends z.ZodType, T> = T extends z.input<S> ? true : never;
const schemasAcceptDomain: [Accepts<typeof ChangeSchema, Change>, Accepts<typeof ApprovalSchema, Approval>, Accepts<typeof JournalEntrySchema, JournalEntry>, Accepts<typeof RevisionSchema, Revision>] = [
  true,
  true,
  true,
  true,
];
void schemasAcceptDomain;

const KINDS = ['config', 'upstream', 'transient', 'input', 'internal'] as const satisfies readonly ErrorKind[];

/** `{ error: { code, kind, message, details } }`, the code one of `codes`. */
export function errorBodySchema(codes: readonly ErrorCode[]): z.ZodType {
  const kinds = [...new Set(codes.map((c) => ERROR_CODES[c].kind))];
  return z.object({
    error: z.object({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      kind: z.enum((kinds.length > 0 ? kinds : KINDS) as [ErrorKind, ...ErrorKind[]]),
      message: z.string().meta({ description: 'Names the offending field where there is one.' }),
      details: z.record(z.string(), z.unknown()),
    }),
  });
}
