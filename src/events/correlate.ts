// Which events belong to a change, and why. Read side (`eventsFor`): events
// linked when processed, events naming the change's key, events on its linked
// commits (in full or abbreviated on either side, domain/commit-sha.ts), CI
// events from its services' repositories during the change's life, and alerts
// on its services (through the services mapping); each with the rule that
// matched it. Processing side (`linksFor`): a new event naming a change key
// is linked to that change, so the change is re-assessed at once; and
// (`changesMatching`) the active changes a new event reaches by the commit and
// service rules are found through the store's index, so they are re-assessed
// at once too (not linked: the read side finds those events by its rules).

import type { Change } from '../domain/change.ts';
import { sameCommit } from '../domain/commit-sha.ts';
import type { CiEvent, MonitorEvent, MonitorWatch } from '../domain/events.ts';
import { commitRefKey, serviceRefKey } from '../store/change-refs.ts';
import type { ChangeStore } from '../store/change-store.ts';
import { CHANGE_KEY_RULE, type EventLink, type EventStore, type StoredEvent } from '../store/event-store.ts';
import { serviceKey, type ServiceEntry, type ServicesMapping } from './services-mapping.ts';

export interface CorrelatedEvent {
  event: StoredEvent;
  /** `linked:<rule>` (stored when processed), `change-key`, `commit`, `service-repository:<service>`, `service:<service>`. */
  rule: string;
}

export interface Correlation {
  ci: CiEvent[];
  monitor: MonitorEvent[];
  watch: MonitorWatch;
  events: CorrelatedEvent[];
}

export interface MonitorSourceInfo {
  id: string;
  /** Services it watches; undefined: every service. */
  services?: readonly string[] | undefined;
}

export interface CorrelatorDeps {
  events: EventStore;
  changes: Pick<ChangeStore, 'getChange' | 'listActiveChangesIndexed'>;
  services: ServicesMapping;
  monitors: readonly MonitorSourceInfo[];
  heartbeatMaxAgeMs: number;
}

const PER_QUERY = 500;

function refNames(change: Change): string[] {
  return [...change.services, ...change.cis].flatMap((r) => [r.name, r.id]).filter((n): n is string => typeof n === 'string' && n !== '');
}

/** The change's service and CI names by serviceKey (one name per key: the one alerts are matched on exactly). */
function namesOf(change: Change): Map<string, string> {
  return new Map(refNames(change).map((n) => [serviceKey(n), n]));
}

/** Whether a CI run is one of the service's pipelines (any run when it names none). */
function namedPipeline(entry: ServiceEntry, e: CiEvent): boolean {
  return entry.pipelines.length === 0 || entry.pipelines.some((p) => e.name?.toLowerCase() === p.toLowerCase());
}

/** Whether a CI run happened while the change lived: from its creation to the end of its planned window (now, without one). */
function inLifeOf(change: Change, e: CiEvent, now: Date): boolean {
  const t = timeOf(e);
  const until = Date.parse(change.plannedEnd ?? '') || now.getTime();
  return !(t < Date.parse(change.createdAt)) && !(t > until);
}

/** The service an event is stored under (the store's `service` column): a monitoring event's own. */
function serviceOf(e: StoredEvent): string | null {
  return e.type === 'monitor' ? e.event.service : null;
}

function timeOf(e: CiEvent): number {
  return Date.parse(e.finishedAt ?? e.startedAt ?? '');
}

/** One new event as `changesMatching` looks for its changes. */
interface Probe {
  /** Index keys (change-refs.ts) the changes it may reach are found under. */
  keys: string[];
  /** Whether `eventsFor(change)` lists it by rule `commit`, `service-repository:*` or `service:*`; `names` is `namesOf(change)`. */
  reaches(change: Change, names: ReadonlyMap<string, string>, now: Date): boolean;
}

export class Correlator {
  readonly #deps: CorrelatorDeps;

  constructor(deps: CorrelatorDeps) {
    this.#deps = deps;
  }

  async eventsFor(change: Change, now: Date): Promise<Correlation> {
    const { events, services } = this.#deps;
    const found = new Map<string, CorrelatedEvent>();
    const add = (list: readonly StoredEvent[], rule: string): void => {
      for (const event of list) if (!found.has(event.id)) found.set(event.id, { event, rule });
    };
    for (const linked of await events.linkedEvents(change)) add([linked.event], `linked:${linked.rule}`);
    add(await events.findEvents({ changeKey: change.key, limit: PER_QUERY }), 'change-key');
    for (const commit of change.links.commits) if (commit.trim() !== '') add(await events.findEvents({ commit: commit.trim(), limit: PER_QUERY }), 'commit');
    const names = namesOf(change);
    const monitorAs = new Map<string, string>();
    for (const [name, entry] of Object.entries(services)) {
      const service = names.get(serviceKey(name));
      if (service === undefined) continue;
      for (const repo of entry.repositories) {
        // Repository events belong to the change only while it lives.
        const inLife = (await events.findEvents({ repo, limit: PER_QUERY })).filter((e) => e.type === 'ci' && namedPipeline(entry, e.event) && inLifeOf(change, e.event, now));
        add(inLife, `service-repository:${name}`);
      }
      for (const value of Object.values(entry.alertLabels)) monitorAs.set(value, service);
    }
    for (const name of names.values()) monitorAs.set(name, name);
    // One query for every label; alerts found through the mapping are shown under the change's name for the service, which the alert checks match on.
    const labels = [...monitorAs.keys()];
    const onServices = labels.length === 0 ? [] : await events.findEvents({ services: labels, limit: PER_QUERY * labels.length });
    for (const label of labels) {
      const service = monitorAs.get(label) as string;
      const alerts = onServices.filter((e) => serviceOf(e) === label).map((e): StoredEvent => (e.type === 'monitor' ? { ...e, event: { ...e.event, service } } : e));
      add(alerts, `service:${service}`);
    }
    const all = [...found.values()];
    return {
      ci: all.flatMap((c) => (c.event.type === 'ci' ? [c.event.event] : [])),
      monitor: all.flatMap((c) => (c.event.type === 'monitor' ? [c.event.event] : [])),
      watch: await this.watchOf(change, now),
      events: all,
    };
  }

  /** The monitoring sources covering the change's services, and whether one of them reported within the heartbeat age. */
  async watchOf(change: Change, now: Date): Promise<MonitorWatch> {
    const names = new Set(refNames(change).map(serviceKey));
    const covering = this.#deps.monitors.filter((m) => m.services === undefined || m.services.some((s) => names.has(serviceKey(s))));
    if (covering.length === 0) return { covered: false, sources: [], lastHeartbeat: null };
    const beats = await this.#deps.events.heartbeats();
    const times = covering.map((m) => beats[m.id]).filter((t): t is string => t !== undefined).toSorted();
    const lastHeartbeat = times.at(-1) ?? null;
    const covered = lastHeartbeat !== null && now.getTime() - Date.parse(lastHeartbeat) <= this.#deps.heartbeatMaxAgeMs;
    return { covered, sources: covering.map((m) => m.id), lastHeartbeat };
  }

  /**
   * The active changes (at most `limit`, each once) on the instances that
   * `eventsFor` would list one of these newly processed events for by rule
   * `commit`, `service-repository:<service>` or `service:<service>`: found
   * under the store's index keys of the commits and services the events name,
   * then each checked against the rules themselves (a repository event within
   * the change's life).
   */
  async changesMatching(stored: readonly StoredEvent[], instances: readonly string[], now: Date, limit = 200): Promise<string[]> {
    const probes = stored.map((e) => this.#probeOf(e));
    const keys = new Set(probes.flatMap((p) => p.keys));
    keys.delete('');
    const found = new Set<string>();
    if (keys.size === 0) return [];
    for (const instance of instances) {
      for (const change of await this.#deps.changes.listActiveChangesIndexed({ instance, keys: [...keys], limit })) {
        if (found.size >= limit) return [...found];
        const names = namesOf(change);
        if (probes.some((p) => p.reaches(change, names, now))) found.add(change.id);
      }
    }
    return [...found];
  }

  /**
   * What the read side's rules need of one event, worked out once: the index
   * keys of the changes it may reach, and the check `eventsFor` would make.
   */
  #probeOf(e: StoredEvent): Probe {
    const entries = Object.entries(this.#deps.services);
    if (e.type === 'ci') {
      const { commit, repo } = e.event;
      // The services whose repositories (and pipelines) the run is from.
      const from = repo === null ? [] : entries.filter(([, entry]) => entry.repositories.includes(repo) && namedPipeline(entry, e.event)).map(([name]) => name);
      const fromKeys = new Set(from.map(serviceKey));
      return {
        keys: [...(commit === null ? [] : [commitRefKey(commit)]), ...from.map(serviceRefKey)],
        reaches: (change, names, now) =>
          (commit !== null && change.links.commits.some((c) => sameCommit(c, commit))) ||
          ([...names.keys()].some((k) => fromKeys.has(k)) && inLifeOf(change, e.event, now)),
      };
    }
    const service = e.event.service;
    if (service === null) return { keys: [], reaches: () => false };
    // The services whose alert labels include the alert's service.
    const mapped = entries.filter(([, entry]) => Object.values(entry.alertLabels).includes(service)).map(([name]) => name);
    const mappedKeys = new Set(mapped.map(serviceKey));
    return {
      keys: [service, ...mapped].map(serviceRefKey),
      reaches: (_change, names) => [...names.values()].includes(service) || [...names.keys()].some((k) => mappedKeys.has(k)),
    };
  }

  /** Links for newly processed events that name a mirrored change's key. */
  async linksFor(stored: readonly StoredEvent[], now: Date): Promise<EventLink[]> {
    const links: EventLink[] = [];
    for (const e of stored) {
      if (e.type !== 'ci') continue;
      for (const key of e.event.changeKeys) {
        const mc = await this.#deps.changes.getChange(key, { withoutRaw: true });
        if (mc !== null) links.push({ eventId: e.id, changeId: mc.change.id, rule: CHANGE_KEY_RULE, linkedAt: now.toISOString() });
      }
    }
    return links;
  }
}
