// Which events belong to a change, and why. Read side (`eventsFor`): events
// linked when processed, events naming the change's key, events on its linked
// commits, CI events from its services' repositories during the change's life,
// and alerts on its services (through the services mapping); each with the rule
// that matched it. Processing side (`linksFor`): a new event naming a change key
// is linked to that change, so the change is re-assessed at once; and
// (`changesMatching`) the active changes a new event reaches by the commit and
// service rules are found through the store's index, so they are re-assessed
// at once too (not linked: the read side finds those events by its rules).

import type { Change } from '../domain/change.ts';
import type { CiEvent, MonitorEvent, MonitorWatch } from '../domain/events.ts';
import { commitRefKey, serviceRefKey } from '../store/change-refs.ts';
import type { ChangeStore } from '../store/change-store.ts';
import type { EventLink, EventStore, StoredEvent } from '../store/event-store.ts';
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
    for (const linked of await events.linkedEvents(change.id)) add([linked.event], `linked:${linked.rule}`);
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
    const keys = new Set(stored.flatMap((e) => this.#indexKeysOf(e)));
    keys.delete('');
    const found = new Set<string>();
    if (keys.size === 0) return [];
    for (const instance of instances) {
      if (found.size >= limit) break;
      for (const change of await this.#deps.changes.listActiveChangesIndexed({ instance, keys: [...keys], limit })) {
        if (found.size >= limit) break;
        if (stored.some((e) => this.#reaches(change, e, now))) found.add(change.id);
      }
    }
    return [...found];
  }

  /** The services-mapping entries a CI event comes from (its repository, one of the entry's pipelines). */
  #entriesOf(e: CiEvent): [string, ServiceEntry][] {
    const repo = e.repo;
    if (repo === null) return [];
    return Object.entries(this.#deps.services).filter(([, entry]) => entry.repositories.includes(repo) && namedPipeline(entry, e));
  }

  /** The services-mapping entries whose alert labels an alert's service is one of. */
  #entriesAlerting(service: string): string[] {
    return Object.entries(this.#deps.services)
      .filter(([, entry]) => Object.values(entry.alertLabels).includes(service))
      .map(([name]) => name);
  }

  /** The index keys (change-refs.ts) of the changes an event may reach. */
  #indexKeysOf(e: StoredEvent): string[] {
    if (e.type === 'ci') {
      const commit = e.event.commit === null ? [] : [commitRefKey(e.event.commit)];
      return [...commit, ...this.#entriesOf(e.event).map(([name]) => serviceRefKey(name))];
    }
    const service = e.event.service;
    if (service === null) return [];
    return [service, ...this.#entriesAlerting(service)].map(serviceRefKey);
  }

  /** Whether `eventsFor(change)` matches the event by rule `commit`, `service-repository:*` or `service:*` (as its queries would find it). */
  #reaches(change: Change, e: StoredEvent, now: Date): boolean {
    const names = namesOf(change);
    if (e.type === 'ci') {
      const commit = e.event.commit;
      if (commit !== null && change.links.commits.some((c) => c.trim() !== '' && c.trim() === commit)) return true;
      return inLifeOf(change, e.event, now) && this.#entriesOf(e.event).some(([name]) => names.has(serviceKey(name)));
    }
    const service = e.event.service;
    if (service === null) return false;
    return [...names.values()].includes(service) || this.#entriesAlerting(service).some((name) => names.has(serviceKey(name)));
  }

  /** Links for newly processed events that name a mirrored change's key. */
  async linksFor(stored: readonly StoredEvent[], now: Date): Promise<EventLink[]> {
    const links: EventLink[] = [];
    for (const e of stored) {
      if (e.type !== 'ci') continue;
      for (const key of e.event.changeKeys) {
        const mc = await this.#deps.changes.getChange(key, { withoutRaw: true });
        if (mc !== null) links.push({ eventId: e.id, changeId: mc.change.id, rule: 'change-key', linkedAt: now.toISOString() });
      }
    }
    return links;
  }
}
