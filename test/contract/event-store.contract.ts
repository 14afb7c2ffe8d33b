// The EventStore contract: what every adapter (SQLite, MongoDB) must do for CI
// and monitoring events, as the ingestion route, the processor and the
// correlation rely on it. Written against the port only; store-adapters.test.ts
// runs it against every store adapter.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CiEvent, MonitorEvent } from '../../src/domain/events.ts';
import type { ClaimOwner } from '../../src/store/claim-owner.ts';
import type { EventStore, NewEventDelivery, StoredEvent } from '../../src/store/event-store.ts';

const T0 = Date.parse('2026-03-12T10:00:00.000Z');
const at = (ms: number): Date => new Date(T0 + ms);

const owner = (name: string, pid: number): ClaimOwner => ({ id: `${name}-epoch`, host: 'host-a', pid, startedAt: '2026-03-02T08:00:00.000Z' });
const DEAD = owner('dead', 101);
const LIVE = owner('live', 202);
const NEXT = owner('next', 303);
const ownerIds = async (store: { claimOwners(): Promise<ClaimOwner[]> }): Promise<string[]> => (await store.claimOwners()).map((o) => o.id).toSorted();

function delivery(n: number, overrides: Partial<NewEventDelivery> = {}): NewEventDelivery {
  return {
    source: 'github',
    kind: 'github',
    deliveryId: `guid-${n}`,
    receivedAt: at(n * 1000).toISOString(),
    headers: { 'x-github-event': 'workflow_run' },
    rawBody: Buffer.from(`{"n":${n},"text":"ünïcode ✓"}`),
    ...overrides,
  };
}

/** A GitHub build of acme/shop at commit abc123 naming CHG0030001 (shared with the SQLite-only event store tests). */
export function ci(id: string, overrides: Partial<CiEvent> = {}): StoredEvent {
  const event: CiEvent = {
    id,
    source: 'github',
    kind: 'build',
    repo: 'acme/shop',
    commit: 'abc123',
    branch: 'CHG0030001-fix',
    runId: '1',
    name: 'build',
    status: 'success',
    environment: null,
    startedAt: null,
    finishedAt: null,
    url: null,
    changeKeys: ['CHG0030001'],
    tests: null,
    findings: null,
    verified: null,
    ...overrides,
  };
  return { type: 'ci', id, source: 'github', deliveryId: 'guid-1', receivedAt: at(1000).toISOString(), event };
}

/** Run github:7:1 as delivered in `status`, naming `changeKeys`. */
const runNaming = (status: CiEvent['status'], changeKeys: string[]): StoredEvent[] => [ci('github:7:1', { status, changeKeys })];

function alert(id: string, status: 'firing' | 'resolved', overrides: Partial<MonitorEvent> = {}): StoredEvent {
  const event: MonitorEvent = {
    id,
    source: 'am',
    kind: 'alert',
    status,
    severity: 'critical',
    service: 'checkout',
    labels: { service: 'checkout' },
    title: 'High error rate',
    startsAt: at(0).toISOString(),
    endsAt: status === 'resolved' ? at(5000).toISOString() : null,
    fingerprint: 'fp1',
    url: null,
    ...overrides,
  };
  return { type: 'monitor', id, source: 'am', deliveryId: 'd', receivedAt: at(2000).toISOString(), event };
}

/** A firing alert on `service`. */
function alertOn(id: string, service: string): StoredEvent {
  const a = alert(id, 'firing');
  return a.type === 'monitor' ? { ...a, event: { ...a.event, id, service, labels: { service } } } : a;
}

/** `open` must return a new, empty store each time; the suite closes it after each test. */
export function describeEventStoreContract(name: string, open: () => Promise<EventStore>): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('stores a delivery once per source and delivery id, keeping the first raw body byte for byte', async () => {
      const first = await store.record(delivery(1));
      const again = await store.record(delivery(1, { rawBody: Buffer.from('{"other":true}') }));
      const otherSource = await store.record(delivery(1, { source: 'github-enterprise' }));
      expect(first).toEqual({ id: 'github:guid-1', duplicate: false });
      expect(again).toEqual({ id: 'github:guid-1', duplicate: true });
      expect(otherSource.duplicate).toBe(false);
      const stored = await store.getDelivery('github:guid-1');
      expect(stored?.rawBody.equals(delivery(1).rawBody)).toBe(true);
      expect(stored).toMatchObject({ status: 'pending', attempts: 0, headers: { 'x-github-event': 'workflow_run' }, kind: 'github' });
      expect(await store.pendingCount()).toBe(2);
    });

    it('stores deliveries that arrive at once (a burst of webhooks), each once, and answers the replay among them as a duplicate', async () => {
      const burst = [delivery(1), delivery(2), delivery(1, { rawBody: Buffer.from('{"replay":true}') }), delivery(3)];
      const results = await Promise.all(burst.map((d) => store.record(d)));
      // Which of the two copies of guid-1 the store takes first is up to it (MongoDB inserts them over
      // several connections); exactly one is stored, and the other is answered as its duplicate.
      expect(results.map((r) => r.id)).toEqual(['github:guid-1', 'github:guid-2', 'github:guid-1', 'github:guid-3']);
      expect([results[1]?.duplicate, results[3]?.duplicate]).toEqual([false, false]);
      expect([results[0]?.duplicate, results[2]?.duplicate].toSorted()).toEqual([false, true]);
      const kept = results[0]?.duplicate === false ? burst[0] : burst[2];
      expect(await store.pendingCount()).toBe(3);
      const claimed = await store.claim(10, at(10_000));
      expect(claimed.map((d) => [d.deliveryId, d.rawBody.toString('utf8')])).toEqual([kept, burst[1], burst[3]].map((d) => [d?.deliveryId, d?.rawBody.toString('utf8')]));
    });

    it('hands a pending delivery to one claim at a time, oldest first, and again once the lease runs out', async () => {
      await store.record(delivery(2));
      await store.record(delivery(1));
      const claimed = await store.claim(10, at(5000), { leaseMs: 1000 });
      expect(claimed.map((d) => d.deliveryId)).toEqual(['guid-1', 'guid-2']);
      expect(claimed[0]?.attempts).toBe(1);
      expect(await store.claim(10, at(5500))).toEqual([]);
      // A processor that died holding them: after the lease they are claimed again (stored, not yet processed, after a crash).
      const retaken = await store.claim(10, at(6001));
      expect(retaken.map((d) => [d.deliveryId, d.attempts])).toEqual([['guid-1', 2], ['guid-2', 2]]);
    });

    it("records who leased a delivery, and makes a dead owner's due at once without touching a live owner's", async () => {
      await store.record(delivery(1));
      await store.record(delivery(2));
      await store.record(delivery(3));
      await store.claim(1, at(10_000), { leaseMs: 30_000, owner: DEAD });
      await store.claim(1, at(10_000), { leaseMs: 30_000, owner: LIVE });
      await store.claim(1, at(10_000), { leaseMs: 30_000 });
      expect(await ownerIds(store)).toEqual([DEAD.id, LIVE.id]);
      expect(await store.claimOwners()).toContainEqual(DEAD);

      expect(await store.releaseClaims(DEAD.id, at(11_000))).toBe(1);
      expect(await ownerIds(store)).toEqual([LIVE.id]);
      // Due now, not when the lease would have run out; the attempt cut short was counted once. The live owner's stays leased.
      const again = await store.claim(5, at(11_000), { owner: NEXT });
      expect(again.map((d) => [d.deliveryId, d.attempts, d.rawBody.toString('utf8')])).toEqual([['guid-1', 2, delivery(1).rawBody.toString('utf8')]]);
      expect(await ownerIds(store)).toEqual([LIVE.id, NEXT.id]);
      expect(await store.releaseClaims('nobody', at(12_000))).toBe(0);
      expect(await store.claim(5, at(39_999))).toEqual([]);
      expect((await store.claim(5, at(40_000))).map((d) => d.deliveryId)).toEqual(['guid-2', 'guid-3']);
    });

    it('forgets the owner once a delivery is settled, so a release never cuts a retry wait short', async () => {
      const first = await store.record(delivery(1));
      const second = await store.record(delivery(2));
      const third = await store.record(delivery(3));
      await store.claim(3, at(10_000), { owner: DEAD });
      await store.complete(first.id, [ci('github:1:1')], at(11_000));
      await store.fail(second.id, 'CG_STORE_UNAVAILABLE: busy', at(600_000), at(11_000));
      await store.fail(third.id, 'CG_EVENT_INVALID: unusable', null, at(11_000));
      expect(await ownerIds(store)).toEqual([]);
      expect(await store.releaseClaims(DEAD.id, at(12_000))).toBe(0);
      expect(await store.claim(5, at(599_999))).toEqual([]);
      expect((await store.claim(5, at(600_000))).map((d) => d.deliveryId)).toEqual(['guid-2']);
    });

    it('completes a delivery with its events in one step; a done delivery is never claimed again', async () => {
      const { id } = await store.record(delivery(1));
      await store.claim(1, at(2000));
      const stored = await store.complete(id, [ci('github:1:1')], at(3000));
      expect(stored.map((e) => e.id)).toEqual(['github:1:1']);
      expect(await store.getDelivery(id)).toMatchObject({ status: 'done', finishedAt: at(3000).toISOString() });
      expect(await store.getEvent('github:1:1')).toEqual(ci('github:1:1'));
      expect(await store.claim(10, at(999_999))).toEqual([]);
      expect(await store.pendingCount()).toBe(0);
    });

    it('schedules a retry or gives up on a failed delivery', async () => {
      const { id } = await store.record(delivery(1));
      await store.claim(1, at(2000));
      await store.fail(id, 'CG_EVENT_INVALID: workflow_run missing', at(10_000), at(3000));
      expect(await store.claim(1, at(9000))).toEqual([]);
      const [again] = await store.claim(1, at(10_000));
      expect(again?.lastError).toContain('workflow_run missing');
      await store.fail(id, 'still unusable', null, at(11_000));
      expect(await store.getDelivery(id)).toMatchObject({ status: 'failed', lastError: 'still unusable' });
      expect(await store.pendingCount()).toBe(0);
    });

    it('never lets a late, earlier state replace a final one (out-of-order deliveries)', async () => {
      const a = await store.record(delivery(1));
      const b = await store.record(delivery(2));
      await store.complete(a.id, [ci('github:9:1', { status: 'failure' }), alert('am:fp1', 'resolved')], at(3000));
      const kept = await store.complete(b.id, [ci('github:9:1', { status: 'running' }), alert('am:fp1', 'firing')], at(4000));
      expect(kept.map((e) => (e.type === 'ci' ? e.event.status : e.event.status))).toEqual(['failure', 'resolved']);
      const c = await store.record(delivery(3));
      await store.complete(c.id, [ci('github:9:1', { status: 'success' })], at(5000));
      expect((await store.getEvent('github:9:1'))?.event).toMatchObject({ status: 'success' });
    });

    it('takes an alert firing again after it resolved, and keeps that start for updates naming only the first one', async () => {
      const [a, b, c, d, e] = await Promise.all([1, 2, 3, 4, 5].map((n) => store.record(delivery(n))));
      const first = at(0).toISOString();
      const again = at(60_000).toISOString();
      await store.complete(a!.id, [alert('pd:incident:P1', 'resolved', { endsAt: at(30_000).toISOString() })], at(31_000));
      // Reopened: a firing that started after the resolved one.
      expect((await store.complete(b!.id, [alert('pd:incident:P1', 'firing', { startsAt: again })], at(61_000)))[0]?.event).toMatchObject({ status: 'firing', startsAt: again });
      // Its acknowledgement carries the incident's creation: the firing keeps its reopened start.
      expect((await store.complete(c!.id, [alert('pd:incident:P1', 'firing', { startsAt: first, title: 'acknowledged' })], at(62_000)))[0]?.event).toMatchObject({ status: 'firing', startsAt: again, title: 'acknowledged' });
      // A resolution that ended before the reopening is the first firing's, late: it resolves nothing now.
      await store.complete(d!.id, [alert('pd:incident:P1', 'resolved', { startsAt: first, endsAt: at(30_000).toISOString() })], at(63_000));
      expect((await store.getEvent('pd:incident:P1'))?.event).toMatchObject({ status: 'firing', startsAt: again });
      await store.complete(e!.id, [alert('pd:incident:P1', 'resolved', { startsAt: first, endsAt: at(90_000).toISOString() })], at(91_000));
      expect((await store.getEvent('pd:incident:P1'))?.event).toMatchObject({ status: 'resolved', startsAt: again, endsAt: at(90_000).toISOString() });
    });

    it('completes a batch in order, a later delivery judged against an earlier one of the same batch', async () => {
      const [a, b, c] = await Promise.all([delivery(1), delivery(2), delivery(3)].map((d) => store.record(d)));
      await store.claim(10, at(5000));
      const stored = await store.completeAll(
        [
          { id: a!.id, events: [ci('github:9:1', { status: 'success' })] },
          { id: b!.id, events: [ci('github:9:1', { status: 'running' }), alert('am:fp1', 'firing')] },
          { id: c!.id, events: [alert('am:fp1', 'resolved')] },
        ],
        at(6000),
      );
      expect(stored.map((events) => events.map((e) => e.event.status))).toEqual([['success'], ['success', 'firing'], ['resolved']]);
      expect((await store.getEvent('github:9:1'))?.event).toMatchObject({ status: 'success' });
      expect((await store.getEvent('am:fp1'))?.event).toMatchObject({ status: 'resolved' });
      for (const { id } of [a!, b!, c!]) expect(await store.getDelivery(id)).toMatchObject({ status: 'done', finishedAt: at(6000).toISOString() });
      expect(await store.completeAll([], at(7000))).toEqual([]);
    });

    it('finds events by change key, commit, repository, service and source', async () => {
      const { id } = await store.record(delivery(1));
      await store.complete(id, [ci('e1'), ci('e2', { commit: 'def456', changeKeys: ['ITSM-42'], repo: 'acme/api' }), alert('am:fp1', 'firing')], at(2000));
      const ids = async (q: Parameters<EventStore['findEvents']>[0]): Promise<string[]> => (await store.findEvents(q)).map((e) => e.id);
      expect(await ids({ changeKey: 'CHG0030001' })).toEqual(['e1']);
      expect(await ids({ changeKey: 'ITSM-42', commit: 'def456' })).toEqual(['e2']);
      expect(await ids({ changeKey: 'ITSM-42', commit: 'abc123' })).toEqual([]);
      expect(await ids({ repo: 'acme/shop' })).toEqual(['e1']);
      expect(await ids({ service: 'checkout' })).toEqual(['am:fp1']);
      expect(await ids({ source: 'am' })).toEqual(['am:fp1']);
    });

    it('finds an event by the change keys of its latest version only: a key an earlier version named no longer finds it', async () => {
      const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map((n) => store.record(delivery(n))));
      const ids = async (changeKey: string): Promise<string[]> => (await store.findEvents({ changeKey })).map((e) => e.id);
      // A run that started naming one change and completed naming another (its commit message was amended).
      await store.complete(a!.id, [ci('github:7:1', { status: 'running', changeKeys: ['CHG0030001', 'ITSM-42'] })], at(2000));
      await store.complete(b!.id, [ci('github:7:1', { status: 'success', changeKeys: ['CHG0030002', 'ITSM-42'] })], at(3000));
      expect([await ids('CHG0030001'), await ids('CHG0030002'), await ids('ITSM-42')]).toEqual([[], ['github:7:1'], ['github:7:1']]);
      // A late running state is not kept over the final one, and neither are the keys it names.
      await store.complete(c!.id, [ci('github:7:1', { status: 'running', changeKeys: ['CHG0030003'] })], at(4000));
      expect([await ids('CHG0030003'), await ids('CHG0030002')]).toEqual([[], ['github:7:1']]);
      // A corrected payload naming no change at all.
      await store.complete(d!.id, [ci('github:7:1', { status: 'failure', changeKeys: [] })], at(5000));
      expect([await ids('CHG0030002'), await ids('ITSM-42')]).toEqual([[], []]);
      expect((await store.getEvent('github:7:1'))?.event).toMatchObject({ status: 'failure', changeKeys: [] });
    });

    it('finds an event by a change key in any case, as a change is found by its key, and drops a key only once no case of it is named', async () => {
      const [a, b, c] = await Promise.all([1, 2, 3].map((n) => store.record(delivery(n))));
      const ids = async (changeKey: string): Promise<string[]> => (await store.findEvents({ changeKey })).map((e) => e.id);
      // A generic source passes keys as the sender wrote them.
      await store.complete(a!.id, [ci('e1', { changeKeys: ['chg0030001', 'CHG0030001'] }), ci('e2', { changeKeys: ['ITSM-42'] })], at(2000));
      expect([await ids('CHG0030001'), await ids('Chg0030001'), await ids('itsm-42'), await ids('ITSM-42')]).toEqual([['e1'], ['e1'], ['e2'], ['e2']]);
      await store.complete(b!.id, [ci('e1', { changeKeys: ['chg0030001'] })], at(3000));
      expect(await ids('CHG0030001')).toEqual(['e1']);
      await store.complete(c!.id, [ci('e1', { changeKeys: [] })], at(4000));
      expect(await ids('chg0030001')).toEqual([]);
    });

    it('finds the events on a commit by its full sha or an abbreviation of it, in any case, from 7 hex characters on', async () => {
      const full = '9fceb02d0ae598e95dc970b74767f19372d61af8';
      const { id } = await store.record(delivery(1));
      await store.complete(
        id,
        [
          ci('full', { commit: full }),
          ci('short', { commit: '9FCEB02D0A' }),
          ci('seven', { commit: '9fceb02' }),
          // Shares the first 7 characters only.
          ci('sibling', { commit: '9fceb02e11111111111111111111111111111111' }),
          ci('six', { commit: '9fceb0' }),
          ci('chart', { commit: 'release-2026' }),
          ci('chart-hotfix', { commit: 'release-2026-hotfix' }),
        ],
        at(2000),
      );
      const ids = async (commit: string, limit?: number): Promise<string[]> => (await store.findEvents(limit === undefined ? { commit } : { commit, limit })).map((e) => e.id).toSorted();
      expect(await ids(full)).toEqual(['full', 'seven', 'short']);
      expect(await ids(` ${full.toUpperCase()} `)).toEqual(['full', 'seven', 'short']);
      expect(await ids('9fceb02d0a')).toEqual(['full', 'seven', 'short']);
      expect(await ids('9fceb02')).toEqual(['full', 'seven', 'short', 'sibling']);
      // Under 7 characters only the same text matches; a revision that is not hex only itself.
      expect(await ids('9fceb0')).toEqual(['six']);
      expect(await ids('Release-2026')).toEqual(['chart']);
      expect(await ids('   ')).toEqual([]);
      // The limit counts matches: the sibling sharing the bucket is passed over, not counted.
      expect((await store.findEvents({ commit: '9fceb02d', limit: 3 })).map((e) => e.id)).toEqual(['full', 'short', 'seven']);
      expect(await ids(full, 1)).toHaveLength(1);
      expect(await ids(full.slice(0, 12))).toEqual(['full', 'seven', 'short']);
    });

    it('finds the events on any of several services in one query, and none for no service', async () => {
      const { id } = await store.record(delivery(1));
      await store.complete(id, [alertOn('am:1', 'checkout'), alertOn('am:2', 'payments'), alertOn('am:3', 'search'), ci('e1')], at(2000));
      const ids = async (q: Parameters<EventStore['findEvents']>[0]): Promise<string[]> => (await store.findEvents(q)).map((e) => e.id).toSorted();
      expect(await ids({ services: ['payments', 'checkout', 'nowhere'] })).toEqual(['am:1', 'am:2']);
      expect(await ids({ services: ['search'], source: 'am' })).toEqual(['am:3']);
      expect(await ids({ services: [] })).toEqual([]);
    });

    it('links an event to changes once each, keeping the rule that made the first link', async () => {
      const { id } = await store.record(delivery(1));
      await store.complete(id, [ci('e1'), ci('e2')], at(2000));
      const linkedAt = at(3000).toISOString();
      expect(await store.link([{ eventId: 'e1', changeId: 'sn:CHG1', rule: 'change-key:branch', linkedAt }, { eventId: 'e2', changeId: 'sn:CHG1', rule: 'commit', linkedAt }])).toBe(2);
      expect(await store.link([{ eventId: 'e1', changeId: 'sn:CHG1', rule: 'service:repository', linkedAt }, { eventId: 'e1', changeId: 'jira:ITSM-42', rule: 'commit', linkedAt }])).toBe(1);
      const linked = await store.linkedEvents({ id: 'sn:CHG1', key: 'CHG0030001' });
      expect(linked.map((l) => [l.event.id, l.rule, l.linkedAt])).toEqual([['e1', 'change-key:branch', linkedAt], ['e2', 'commit', linkedAt]]);
      expect((await store.linkedChanges('e1')).map((l) => [l.changeId, l.rule])).toEqual([['jira:ITSM-42', 'commit'], ['sn:CHG1', 'change-key:branch']]);
      expect(await store.linkedEvents({ id: 'sn:none', key: 'CHG0039999' })).toEqual([]);
    });

    it("holds a change-key link only while the event's latest version names the change, by its key in any case or its id; other rules stay", async () => {
      const [a, b, c, d, e] = await Promise.all([1, 2, 3, 4, 5].map((n) => store.record(delivery(n))));
      const first = { id: 'sn:CHG1', key: 'CHG0030001' };
      const second = { id: 'sn:CHG2', key: 'CHG0030002' };
      const onCommit = { id: 'jira:ITSM-42', key: 'ITSM-42' };
      const linkedAt = at(2500).toISOString();
      const byKey = (change: { id: string }) => ({ eventId: 'github:7:1', changeId: change.id, rule: 'change-key', linkedAt });
      const linked = async (change: { id: string; key: string }): Promise<string[][]> => (await store.linkedEvents(change)).map((l) => [l.event.id, l.rule]);

      await store.complete(a!.id, runNaming('success', ['CHG0030001']), at(2000));
      await store.link([byKey(first), { eventId: 'github:7:1', changeId: onCommit.id, rule: 'commit', linkedAt }]);
      // A corrected payload names another change: the first no longer has the run, the commit link stays.
      await store.complete(b!.id, runNaming('failure', ['CHG0030002']), at(3000));
      await store.link([byKey(second)]);
      expect([await linked(first), await linked(second), await linked(onCommit)]).toEqual([[], [['github:7:1', 'change-key']], [['github:7:1', 'commit']]]);
      // Named again in lower case, as a generic source passes a key: the key is found in any case, so the link holds again.
      await store.complete(c!.id, runNaming('failure', ['chg0030001']), at(4000));
      expect([await linked(first), await linked(second)]).toEqual([[['github:7:1', 'change-key']], []]);
      // Named by the change's id.
      await store.complete(d!.id, runNaming('failure', ['sn:CHG2']), at(5000));
      expect([await linked(first), await linked(second)]).toEqual([[], [['github:7:1', 'change-key']]]);
      // A late running state is not kept over the final one: the key it names holds no link.
      await store.complete(e!.id, runNaming('running', ['CHG0030001']), at(6000));
      expect(await store.link([byKey(first)])).toBe(0);
      expect([await linked(first), await linked(second)]).toEqual([[], [['github:7:1', 'change-key']]]);
      // The links as made are still listed for the event.
      expect((await store.linkedChanges('github:7:1')).map((l) => [l.changeId, l.rule])).toEqual([['jira:ITSM-42', 'commit'], ['sn:CHG1', 'change-key'], ['sn:CHG2', 'change-key']]);
    });

    it('keeps the latest heartbeat per source', async () => {
      expect(await store.heartbeats()).toEqual({});
      await store.heartbeat('am', at(5000).toISOString());
      await store.heartbeat('am', at(1000).toISOString());
      await store.heartbeat('grafana', at(2000).toISOString());
      expect(await store.heartbeats()).toEqual({ am: at(5000).toISOString(), grafana: at(2000).toISOString() });
    });

    it('keeps each pull\'s saved position by key, the last save winning', async () => {
      expect(await store.pullState('github:acme/shop')).toBeNull();
      await store.savePullState('github:acme/shop', '{"since":"a"}', at(1000).toISOString());
      await store.savePullState('github:acme/shop', '{"since":"b"}', at(2000).toISOString());
      await store.savePullState('am:http://am', '{"firing":{}}', at(2000).toISOString());
      expect(await store.pullState('github:acme/shop')).toBe('{"since":"b"}');
      expect(await store.pullState('am:http://am')).toBe('{"firing":{}}');
    });
  });
}
