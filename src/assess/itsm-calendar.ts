// The ITSM-side calendars (ServiceNow blackout and maintenance schedules) per
// instance, cached so that judging a change never waits on ServiceNow: the
// policy context reads the last good calendar synchronously, and a read older
// than the refresh interval starts one refresh in the background. A schedule
// table the API user cannot read leaves the policy calendar alone and is
// logged once per instance and error code, not on every refresh.

import { isChangegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CalendarReader } from '../kit/define-connector.ts';
import type { Calendar } from '../policy/calendar.ts';

export type { CalendarReader } from '../kit/define-connector.ts';

export interface ItsmCalendarsOptions {
  logger: Logger;
  /** Minimum time between two reads of one instance; default 15 minutes. */
  refreshMs?: number;
  /** Injectable for tests; default Date.now. */
  now?: () => number;
}

export interface ItsmCalendars {
  /** The last calendar read for the instance; null before the first good read or for an instance with no reader. Starts a refresh when due. */
  calendarFor(instance: string): Calendar | null;
  /** Reads the instance now (unless a read is already running) and resolves when it ends; never throws. */
  refresh(instance: string): Promise<void>;
  /** Refreshes every instance: for start-up, so the first assessments already see the schedules. */
  refreshAll(): Promise<void>;
  /**
   * What judging the instance's changes rests on: `read` (its schedules are merged in), `none` (its
   * system publishes none), `unread` (the last read failed and none succeeded before: the policy
   * calendar applies alone; `error` says why).
   */
  status(instance: string): { itsm: 'read' | 'none' | 'unread'; error?: string };
}

interface Entry {
  calendar: Calendar | null;
  /** When the last read ended, good or bad; null: never read. */
  readAt: number | null;
  running: Promise<void> | null;
  /** Codes already logged, so a standing 403 is said once. */
  logged: Set<string>;
  /** Why the last read failed; null after a good one. */
  error: string | null;
}

export function createItsmCalendars(readers: ReadonlyMap<string, CalendarReader>, options: ItsmCalendarsOptions): ItsmCalendars {
  const refreshMs = options.refreshMs ?? 15 * 60_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  for (const id of readers.keys()) entries.set(id, { calendar: null, readAt: null, running: null, logged: new Set(), error: null });

  function refresh(instance: string): Promise<void> {
    const entry = entries.get(instance);
    const read = readers.get(instance);
    if (!entry || !read) return Promise.resolve();
    entry.running ??= read()
      .then((calendar) => {
        entry.calendar = calendar;
        entry.error = null;
        entry.logged.clear();
        options.logger.debug({ instance, windows: calendar.windows.length }, 'ITSM calendar refreshed');
      })
      .catch((error: unknown) => {
        const code = isChangegateError(error) ? error.code : 'unknown';
        const why = error instanceof Error ? error.message : String(error);
        entry.error = why;
        if (entry.logged.has(code)) return;
        entry.logged.add(code);
        // The policy calendar still applies; only the ITSM schedules are missing (or stale).
        options.logger.warn({ instance, code, err: error }, `${instance}: ITSM blackout/maintenance schedules could not be read; the policy calendar applies without them (${why})`);
      })
      .finally(() => {
        entry.readAt = now();
        entry.running = null;
      });
    return entry.running;
  }

  return {
    calendarFor(instance) {
      const entry = entries.get(instance);
      if (!entry) return null;
      if (entry.running === null && (entry.readAt === null || now() - entry.readAt >= refreshMs)) void refresh(instance);
      return entry.calendar;
    },
    refresh,
    status(instance) {
      const entry = entries.get(instance);
      if (!entry) return { itsm: 'none' };
      if (entry.calendar !== null) return { itsm: 'read' };
      return entry.error === null ? { itsm: 'unread' } : { itsm: 'unread', error: entry.error };
    },
    async refreshAll() {
      await Promise.all([...entries.keys()].map((id) => refresh(id)));
    },
  };
}

/** The policy calendar plus an ITSM calendar (null: none). */
export function mergeCalendars(policy: Calendar, itsm: Calendar | null): Calendar {
  if (itsm === null || itsm.windows.length === 0) return policy;
  return { windows: [...policy.windows, ...itsm.windows] };
}
