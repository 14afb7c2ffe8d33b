// The changes the event processor re-assesses at once for a new delivery, on
// random mirrors and deliveries, against the read side itself: exactly the
// active changes whose `eventsFor` lists one of the delivery's events by the
// change key, the commit, the service-repository or the service rule, each
// once. Service and CI names come in spellings serviceKey equates (and some it
// does not), commits with surrounding blanks, runs before, during and after a
// change's life, alerts named by a service, an id or a mapped label.

import * as fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CanonicalState, Change, Ref } from '../../src/domain/change.ts';
import { Correlator } from '../../src/events/correlate.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import type { ServicesMapping } from '../../src/events/services-mapping.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const HOUR = 3_600_000;
const BASE = Date.parse('2026-03-09T00:00:00Z');
const NOW = new Date(BASE + 60 * HOUR);
const at = (hours: number): string => new Date(BASE + hours * HOUR).toISOString();

const REFS: Ref[] = [
  { id: 'svc-payments', name: 'Payments API' },
  { id: 'svc-payments-2', name: 'payments_api' },
  { id: 'svc-billing', name: 'Billing' },
  { id: 'ci-gw-01', name: 'pay-gw-01' },
  { id: 'ci-gw-02', name: null },
];
const COMMITS = ['aaaaaaa1111111', 'bbbbbbb2222222', 'ccccccc3333333'];
const REPOS = ['acme/payments', 'acme/billing', 'acme/other'];
const PIPELINES = ['release', 'nightly', null];
const ALERT_SERVICES = ['Payments API', 'payments-api', 'payments', 'billing-team', 'Billing', 'svc-billing', 'pay-gw-01', 'nobody'];
const STATES: CanonicalState[] = ['new', 'assess', 'scheduled', 'implement', 'review', 'closed', 'canceled', 'failed'];

const services: ServicesMapping = {
  'payments-api': { repositories: ['acme/payments'], pipelines: ['release'], environments: [], alertLabels: { service: 'payments' } },
  Billing: { repositories: ['acme/billing'], pipelines: [], environments: [], alertLabels: { team: 'billing-team' } },
  'PAY GW 01': { repositories: ['acme/payments'], pipelines: [], environments: [], alertLabels: {} },
};

const changeArb = fc.record({
  state: fc.constantFrom(...STATES),
  services: fc.uniqueArray(fc.constantFrom(...REFS.slice(0, 3)), { maxLength: 2, selector: (r) => r.id }),
  cis: fc.uniqueArray(fc.constantFrom(...REFS.slice(3)), { maxLength: 2, selector: (r) => r.id }),
  commits: fc.uniqueArray(fc.constantFrom(...COMMITS.flatMap((c) => [c, ` ${c} `])), { maxLength: 2 }),
  created: fc.integer({ min: 0, max: 50 }),
  plannedEnd: fc.option(fc.integer({ min: 0, max: 70 })),
});

const ciArb = fc.record({
  type: fc.constant('ci' as const),
  repo: fc.option(fc.constantFrom(...REPOS)),
  commit: fc.option(fc.constantFrom(...COMMITS, 'ddddddd4444444')),
  name: fc.constantFrom(...PIPELINES),
  finished: fc.integer({ min: 0, max: 60 }),
});
const alertArb = fc.record({
  type: fc.constant('monitor' as const),
  service: fc.option(fc.constantFrom(...ALERT_SERVICES)),
  starts: fc.integer({ min: 0, max: 60 }),
});

describe('EventProcessor re-assesses what the read side finds for a delivery', () => {
  it('exactly the active changes whose eventsFor lists one of its events by rule, each once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(changeArb, { minLength: 1, maxLength: 12 }), fc.array(fc.oneof(ciArb, alertArb), { minLength: 1, maxLength: 4 }), async (specs, events) => {
        const stores = openSqliteStores(':memory:');
        try {
          const changes: Change[] = specs.map((s, i) =>
            buildChange({
              nativeId: sysId(i + 1),
              key: changeNumber(i + 1),
              state: s.state,
              services: s.services,
              cis: s.cis,
              links: { repos: [], commits: s.commits, artifacts: [], pipelines: [] },
              createdAt: at(s.created),
              plannedStart: s.plannedEnd === null ? null : at(s.plannedEnd - 1),
              plannedEnd: s.plannedEnd === null ? null : at(s.plannedEnd),
              updatedAt: at(s.created),
            }),
          );
          await stores.changes.applyPage('sn-prod', 'changes', changes.map((change) => ({ kind: 'change', change })), null);
          const body = {
            ci: events.flatMap((e, i) => (e.type === 'ci' ? [{ id: `run-${i}`, status: 'success', repo: e.repo, commit: e.commit, name: e.name, finishedAt: at(e.finished) }] : [])),
            monitor: events.flatMap((e, i) => (e.type === 'monitor' ? [{ id: `alert-${i}`, status: 'firing', severity: 'critical', startsAt: at(e.starts), labels: e.service === null ? {} : { service: e.service, team: e.service } }] : [])),
          };
          await stores.events.record({ source: 'hooks', kind: 'generic', deliveryId: 'd-1', receivedAt: NOW.toISOString(), headers: {}, rawBody: Buffer.from(JSON.stringify(body)) });
          const correlator = new Correlator({ events: stores.events, changes: stores.changes, services, monitors: [], heartbeatMaxAgeMs: 900_000 });
          const reassessed: string[] = [];
          const processor = new EventProcessor({
            events: stores.events,
            kindOf: eventSourceKind,
            correlator,
            reassess: async (id) => reassessed.push(id),
            instances: ['sn-prod'],
            logger: pino({ level: 'silent' }),
            clock: () => NOW,
          });
          expect(await processor.drain()).toBe(1);
          expect(await stores.events.getDelivery('hooks:d-1')).toMatchObject({ status: 'done' });

          const expected: string[] = [];
          for (const change of changes) {
            if (['closed', 'canceled', 'failed'].includes(change.state)) continue;
            const { events: found } = await correlator.eventsFor(change, NOW);
            if (found.some((c) => c.event.deliveryId === 'd-1')) expected.push(change.id);
          }
          expect(reassessed.toSorted()).toEqual(expected.toSorted());
        } finally {
          await stores.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});
