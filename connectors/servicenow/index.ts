// The ServiceNow connector as the registry lists it: Table API reads of
// change_request, its approvals and journal; write-back of verdict fields, work
// notes and state moves; the instance's blackout and maintenance schedules.

import type { CanonicalState } from '../../src/domain/change.ts';
import { defineConnector } from '../../src/kit/define-connector.ts';
import type { StandardStates } from '../../src/kit/mapping-file.ts';
import { SERVICENOW_MAPPING_KIND } from './servicenow-mapping-schema.ts';
import { createServiceNowAuth } from './servicenow-auth.ts';
import { createServiceNowClient } from './servicenow-client.ts';
import { ServiceNowInstance } from './servicenow-config.ts';
import { createServiceNowConnector, SERVICENOW_STREAMS } from './servicenow-connector.ts';
import { loadServiceNowMapping, validateServiceNowMappingSource } from './servicenow-mapping.ts';
import { readServiceNowSchedules } from './servicenow-schedules.ts';
import { createServiceNowWriter, VERDICT_FIELDS } from './servicenow-writer.ts';

/** The out-of-box change_request states (choice values and labels) every instance has unless customised. */
const SERVICENOW_STANDARD_STATES: StandardStates = {
  section: 'states',
  source: 'an out-of-box ServiceNow change state',
  states: [
    { value: '-5', label: 'New', suggested: 'new' },
    { value: '-4', label: 'Assess', suggested: 'assess' },
    { value: '-3', label: 'Authorize', suggested: 'authorize' },
    { value: '-2', label: 'Scheduled', suggested: 'scheduled' },
    { value: '-1', label: 'Implement', suggested: 'implement' },
    { value: '0', label: 'Review', suggested: 'review' },
    { value: '3', label: 'Closed', suggested: 'closed' },
    { value: '4', label: 'Canceled', suggested: 'canceled' },
  ],
};

const OUT_OF_BOX_LABELS: ReadonlyMap<string, string> = new Map(SERVICENOW_STANDARD_STATES.states.map(({ value, label }) => [value, label]));

/**
 * The mapping's choice values, plus the out-of-box label of each value it maps
 * ("Scheduled" for -2), so a caller may name a state as people see it.
 */
function valuesAndLabels(states: ReadonlyMap<string, CanonicalState>): ReadonlyMap<string, CanonicalState> {
  const all = new Map(states);
  for (const [value, state] of states) {
    const label = OUT_OF_BOX_LABELS.get(value);
    if (label !== undefined && !all.has(label)) all.set(label, state);
  }
  return all;
}

/** Each canonical state by the label of the first value mapped to it (the value itself when it is no out-of-box state). */
function labelsOfStates(states: ReadonlyMap<string, CanonicalState>): ReadonlyMap<CanonicalState, string> {
  const names = new Map<CanonicalState, string>();
  for (const [value, state] of states) if (!names.has(state)) names.set(state, OUT_OF_BOX_LABELS.get(value) ?? value);
  return names;
}

export const servicenow = defineConnector<ServiceNowInstance>({
  system: 'servicenow',
  title: 'ServiceNow',
  config: ServiceNowInstance,
  mappingKinds: [
    {
      kind: SERVICENOW_MAPPING_KIND,
      validate: validateServiceNowMappingSource,
      standardStates: SERVICENOW_STANDARD_STATES,
    },
  ],
  streams: SERVICENOW_STREAMS,
  nativeStates: (instance) => valuesAndLabels(loadServiceNowMapping(instance.mapping).states),
  stateNames: (instance) => labelsOfStates(loadServiceNowMapping(instance.mapping).states),
  open(instance, { logger, onRequest }) {
    const mapping = loadServiceNowMapping(instance.mapping);
    // Reads and write-back share one set of credentials (one OAuth token).
    const auth = createServiceNowAuth(instance, { logger, onRequest });
    const client = createServiceNowClient(instance, { logger, onRequest, auth });
    const connector = createServiceNowConnector(instance, { mapping, logger, onRequest, client });
    // Appends and state moves are not retried inside the call: the outbox retries them after checking the ticket.
    const once = createServiceNowClient({ ...instance, retries: 0 }, { logger, onRequest, auth });
    connector.writer = createServiceNowWriter({ client, once, mapping, workNotes: instance.workNotes, logger });
    return connector;
  },
  ownWrites: (instance) => ({
    // client_credentials runs as the OAuth application's user, which the configuration does not name.
    users: 'username' in instance.auth ? [instance.auth.username] : [],
    // The verdict fields and a work note; ServiceNow bumps the bookkeeping fields with every update.
    paths: [...Object.values(VERDICT_FIELDS), 'work_notes', 'comments_and_work_notes', 'sys_mod_count', 'sys_updated_on', 'sys_updated_by'].map((f) => `raw.${f}`).concat(['updatedAt', 'nativeRevision']),
  }),
  capabilities: {
    calendars(instance, { logger, onRequest }) {
      // Its own client (and token), on the instance's one request budget (src/http/rate-limiter.ts), and its
      // page size: an instance that needs small pages (row caps, transaction timeouts) needs them here too.
      const client = createServiceNowClient(instance, { logger, onRequest });
      return (signal) => readServiceNowSchedules(client, { logger, pageSize: instance.pageSize, ...(signal ? { signal } : {}) });
    },
  },
});
