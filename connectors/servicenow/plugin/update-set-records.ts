// What the changegate update set installs, as plain data: the verdict fields,
// the business rule, the REST message for /v1/validate and the system
// properties. `build-update-set.ts` turns these into update set XML.
//
// sys_ids are derived from a stable seed (md5 is 32 hex digits, the shape of a
// sys_id), so re-importing a newer build updates the same records instead of
// creating duplicates.

import { createHash } from 'node:crypto';

/** A field value; `display` becomes the `display_value` attribute real exports carry on references and choices. */
export type FieldValue = string | { value: string; display: string };

export interface UpdateRecord {
  /** The record's table, e.g. `sys_script`. */
  table: string;
  sysId: string;
  /** `sys_update_xml.name`: ServiceNow's update name for the record. */
  updateName: string;
  /** `sys_update_xml.type`, the label the update set list shows. */
  type: string;
  /** `sys_update_xml.target_name`. */
  targetName: string;
  /** `sys_update_xml.table`: the table the record customises, or empty. */
  customises: string;
  /** Attributes on the record element inside the payload (dictionary entries carry table and element). */
  attributes: Record<string, string>;
  fields: Record<string, FieldValue>;
}

export const UPDATE_SET = {
  name: 'changegate 0.1.0',
  description:
    'changegate: verdict fields on change_request, a before-update business rule that aborts a state change the release policy does not allow, ' +
    'the "changegate validate" REST message for POST /v1/validate, and x_changegate.* system properties.',
  // Fixed so that a fresh build equals the committed file byte for byte.
  date: '2026-11-27 00:00:00',
} as const;

export function sysIdFor(seed: string): string {
  return createHash('md5').update(`changegate|${seed}`).digest('hex');
}

const BR_NAME = 'changegate: block illegal state transitions';
const REST_MESSAGE = 'changegate validate';

interface FieldSpec {
  element: string;
  label: string;
  type: string;
  typeLabel: string;
  maxLength: string;
  hint: string;
}

export const VERDICT_FIELDS: readonly FieldSpec[] = [
  { element: 'u_changegate_verdict', label: 'changegate verdict', type: 'string', typeLabel: 'String', maxLength: '16', hint: 'allowed or blocked, written by changegate' },
  { element: 'u_changegate_allowed', label: 'changegate allowed next states', type: 'string', typeLabel: 'String', maxLength: '100', hint: 'Comma-separated state values the release policy allows next, e.g. -3,4' },
  { element: 'u_changegate_reasons', label: 'changegate reasons', type: 'string', typeLabel: 'String', maxLength: '4000', hint: 'Why the release policy blocks transitions, written by changegate' },
  { element: 'u_changegate_policy_version', label: 'changegate policy version', type: 'string', typeLabel: 'String', maxLength: '100', hint: 'Version of the policy that produced the verdict' },
  { element: 'u_changegate_allowed_with_reason', label: 'changegate allowed with a reason', type: 'string', typeLabel: 'String', maxLength: '1000', hint: 'Blocked state values a save may still move to when it carries the reason (JSON), written by changegate' },
  { element: 'u_changegate_assessed_at', label: 'changegate assessed at', type: 'glide_date_time', typeLabel: 'Date/Time', maxLength: '40', hint: 'When changegate computed the verdict' },
];

export interface PropertySpec {
  name: string;
  value: string;
  type: 'string' | 'integer';
  description: string;
}

export const PROPERTIES: readonly PropertySpec[] = [
  { name: 'x_changegate.url', value: '', type: 'string', description: 'Base URL of the changegate service, e.g. https://changegate.example.com (callout mode).' },
  { name: 'x_changegate.timeout_ms', value: '3000', type: 'integer', description: 'HTTP timeout for POST /v1/validate in milliseconds (clamped to 500..25000; ServiceNow caps outbound waits at 30 s).' },
  { name: 'x_changegate.fail_mode', value: 'open', type: 'string', description: 'open: allow a state change changegate cannot check (no, stale or unreadable verdict, service down). closed: block it.' },
  { name: 'x_changegate.validate_mode', value: 'fields', type: 'string', description: 'fields: decide from the u_changegate_* verdict fields (no call-out). callout: ask POST /v1/validate on every state change.' },
  { name: 'x_changegate.max_verdict_age_minutes', value: '0', type: 'integer', description: 'Fields mode: a verdict older than this counts as stale and falls back to the fail mode. 0 (default) turns the check off; set it only if changegate re-stamps u_changegate_assessed_at periodically.' },
  { name: 'x_changegate.instance_id', value: '', type: 'string', description: 'The changegate instance id of this ServiceNow instance (changegate.yaml instances[].id); defaults to instance_name.' },
  { name: 'x_changegate.bypass_users', value: '', type: 'string', description: 'Comma-separated user names the rule never blocks: the changegate integration account, so its corrective moves go through.' },
];

const AUDIT = { sys_created_by: 'admin', sys_created_on: UPDATE_SET.date, sys_updated_by: 'admin', sys_updated_on: UPDATE_SET.date, sys_mod_count: '0' };

function dictionary(spec: FieldSpec): UpdateRecord[] {
  const sysId = sysIdFor(`sys_dictionary|change_request|${spec.element}`);
  const docId = sysIdFor(`sys_documentation|change_request|${spec.element}|en`);
  return [
    {
      table: 'sys_dictionary',
      sysId,
      updateName: `sys_dictionary_change_request_${spec.element}`,
      type: 'Dictionary',
      targetName: `change_request.${spec.element}`,
      customises: 'change_request',
      attributes: { element: spec.element, table: 'change_request' },
      fields: {
        active: 'true',
        column_label: spec.label,
        comments: spec.hint,
        element: spec.element,
        internal_type: { value: spec.type, display: spec.typeLabel },
        mandatory: 'false',
        max_length: spec.maxLength,
        name: 'change_request',
        read_only: 'false',
        sys_class_name: 'sys_dictionary',
        sys_id: sysId,
        sys_name: spec.label,
        sys_update_name: `sys_dictionary_change_request_${spec.element}`,
        ...AUDIT,
      },
    },
    {
      table: 'sys_documentation',
      sysId: docId,
      updateName: `sys_documentation_change_request_${spec.element}_en`,
      type: 'Field Label',
      targetName: `change_request.${spec.element}`,
      customises: 'change_request',
      attributes: { element: spec.element, label: spec.label, language: 'en', table: 'change_request' },
      fields: {
        element: spec.element,
        hint: spec.hint,
        label: spec.label,
        language: 'en',
        name: 'change_request',
        plural: spec.label,
        sys_class_name: 'sys_documentation',
        sys_id: docId,
        sys_name: spec.label,
        sys_update_name: `sys_documentation_change_request_${spec.element}_en`,
        ...AUDIT,
      },
    },
  ];
}

function businessRule(script: string): UpdateRecord {
  const sysId = sysIdFor(`sys_script|change_request|${BR_NAME}`);
  return {
    table: 'sys_script',
    sysId,
    updateName: `sys_script_${sysId}`,
    type: 'Business Rule',
    targetName: BR_NAME,
    customises: 'change_request',
    attributes: {},
    fields: {
      abort_action: 'false',
      action_delete: 'false',
      action_insert: 'false',
      action_query: 'false',
      action_update: 'true',
      active: 'true',
      advanced: 'true',
      collection: 'change_request',
      condition: 'current.state.changes()',
      description: 'Aborts a change_request state change that the changegate release policy does not allow (see the x_changegate.* system properties).',
      filter_condition: '',
      name: BR_NAME,
      // Late in the before phase, so state changes made by other before rules are checked too.
      order: '1000',
      priority: '100',
      script,
      sys_class_name: 'sys_script',
      sys_id: sysId,
      sys_name: BR_NAME,
      sys_update_name: `sys_script_${sysId}`,
      when: 'before',
      ...AUDIT,
    },
  };
}

function restMessage(): UpdateRecord[] {
  const messageId = sysIdFor(`sys_rest_message|${REST_MESSAGE}`);
  const methodId = sysIdFor(`sys_rest_message_fn|${REST_MESSAGE}|post`);
  // The business rule sets the real endpoint from x_changegate.url; this one is what "Test" in the UI calls.
  const endpoint = 'https://changegate.example.com/v1/validate';
  return [
    {
      table: 'sys_rest_message',
      sysId: messageId,
      updateName: `sys_rest_message_${messageId}`,
      type: 'REST Message',
      targetName: REST_MESSAGE,
      customises: '',
      attributes: {},
      fields: {
        authentication_type: 'no_authentication',
        description: 'changegate transition check: POST /v1/validate {system, instance, key, from, to}. Set the authentication the changegate service expects.',
        name: REST_MESSAGE,
        rest_endpoint: endpoint,
        sys_class_name: 'sys_rest_message',
        sys_id: messageId,
        sys_name: REST_MESSAGE,
        sys_update_name: `sys_rest_message_${messageId}`,
        ...AUDIT,
      },
    },
    {
      table: 'sys_rest_message_fn',
      sysId: methodId,
      updateName: `sys_rest_message_fn_${methodId}`,
      type: 'HTTP Method',
      targetName: 'post',
      customises: '',
      attributes: {},
      fields: {
        authentication_type: 'inherit_from_parent',
        content: '',
        function_name: 'post',
        http_method: 'post',
        rest_endpoint: endpoint,
        rest_message: { value: messageId, display: REST_MESSAGE },
        sys_class_name: 'sys_rest_message_fn',
        sys_id: methodId,
        sys_name: 'post',
        sys_update_name: `sys_rest_message_fn_${methodId}`,
        ...AUDIT,
      },
    },
  ];
}

function property(spec: PropertySpec): UpdateRecord {
  const sysId = sysIdFor(`sys_properties|${spec.name}`);
  return {
    table: 'sys_properties',
    sysId,
    updateName: `sys_properties_${sysId}`,
    type: 'System Property',
    targetName: spec.name,
    customises: '',
    attributes: {},
    fields: {
      description: spec.description,
      ignore_cache: 'false',
      is_private: 'false',
      name: spec.name,
      sys_class_name: 'sys_properties',
      sys_id: sysId,
      sys_name: spec.name,
      sys_update_name: `sys_properties_${sysId}`,
      type: spec.type,
      value: spec.value,
      ...AUDIT,
    },
  };
}

/** Every record of the update set, fields first so the rule never runs against a table without them. */
export function updateSetRecords(businessRuleScript: string): UpdateRecord[] {
  return [...VERDICT_FIELDS.flatMap(dictionary), ...PROPERTIES.map(property), ...restMessage(), businessRule(businessRuleScript)];
}
