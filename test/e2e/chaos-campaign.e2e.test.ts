// The fault campaign (`npm run chaos`) in CI: a few runs of a fixed seed
// through the same code, and proof that its checker fails when a finished
// run's tickets or mirror are wrong. Every fault kind is drawn from; the long
// campaign runs on demand (README, "Fault campaign").

import { afterAll, describe, expect, it } from 'vitest';
import { checkWorld } from '../chaos/chaos-check.ts';
import { drawPlan } from '../chaos/chaos-plan.ts';
import { runPlan } from '../chaos/chaos-run.ts';
import type { ChaosWorld } from '../chaos/chaos-world.ts';

const SEED = 2026;

describe('fault campaign', () => {
  let kept: ChaosWorld | null = null;
  afterAll(async () => {
    await kept?.close();
  });

  it('ends each run with the mirror equal to both simulators and every ticket write there once', async () => {
    for (const run of [0, 1, 2]) {
      const plan = drawPlan(SEED, run);
      expect(plan.faults.length).toBeGreaterThan(0);
      const { report } = await runPlan(plan);
      expect({ run, deviations: report.deviations }).toEqual({ run, deviations: [] });
    }
  }, 180_000);

  it('reports a doubled note, a change the mirror never got and a verdict the ticket lost', async () => {
    const plan = { ...drawPlan(SEED, 99), faults: [] };
    const { report, world } = await runPlan(plan, { keep: true });
    kept = world;
    if (world === null) throw new Error('the run did not keep its world');
    expect(report.deviations).toEqual([]);

    // A verdict note posted a second time on a ServiceNow ticket.
    const noted = world.sn.listChanges().find((row) => world.sn.journalFor(String(row.sys_id)).some((j) => String(j.value).includes('[changegate:')));
    if (noted === undefined) throw new Error('no ServiceNow change got a verdict note');
    const note = world.sn.journalFor(String(noted.sys_id)).find((j) => String(j.value).includes('[changegate:'));
    world.sn.addJournal(String(noted.sys_id), 'work_notes', String(note?.value), undefined, { touchParent: false });
    // A Jira change created after the last sync: the mirror never saw it.
    const missing = world.jira.createIssue({ summary: 'never mirrored', 'Change type': 'Normal' }, { emit: false });
    // The verdict comment of another Jira change deleted from the ticket.
    const lost = world.jira.store.all.find((issue) => issue.key !== missing.key && issue.comments.some((c) => c.properties?.some((p) => p.key === 'changegate')));
    if (lost === undefined) throw new Error('no Jira change got a verdict comment');
    lost.comments = lost.comments.filter((c) => !c.properties?.some((p) => p.key === 'changegate'));

    const deviations = await checkWorld(world);
    const found = (kind: string, text: string): boolean => deviations.some((d) => d.kind === kind && d.detail.includes(text));
    expect(found('note-twice', String(noted.number))).toBe(true);
    expect(found('mirror-missing', missing.key)).toBe(true);
    expect(found('mirror-count', 'the system serves')).toBe(true);
    expect(found('verdict-missing', lost.key)).toBe(true);
  }, 120_000);
});
