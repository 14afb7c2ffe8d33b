// The demo as a newcomer meets it: `serve` with no configuration starts the
// simulators, and its demo pipeline and demo Alertmanager post signed events
// over HTTP to the service's own /v1/events/:source. Within the first minutes
// a Scheduled change's `implement.ci-green` goes from pending to pass, and a
// critical alert during an Implement change's hypercare reaches its ServiceNow
// ticket as a work note, followed by its resolution.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import type { DemoStory } from '../../src/app/demo-events.ts';
import { registry } from '../../src/app/registry.ts';
import { demoConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log.ts';

let dir: string;
let app: ChangegateApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-demo-events-'));
  const base = demoConfig(registry, {}).config;
  app = await createApp(
    { config: { ...base, server: { ...base.server, listen: '127.0.0.1:0' }, store: { kind: 'sqlite', path: join(dir, 'changegate.db') } }, file: null, registry },
    { logger: createLogger({ level: 'silent' }), demoCount: 60, demoStepMs: 1_500 },
  );
  await app.serve();
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const story = (kind: DemoStory['kind'], instance: string) =>
  until(`the demo's ${kind} story on ${instance}`, async () => app.demoEvents()?.stories().find((s) => s.kind === kind && s.instance === instance) ?? null);

async function ciGreenResults(instance: string, key: string): Promise<string[]> {
  const mirrored = await app.store.getChange(key, { instance });
  if (mirrored === null) return [];
  const results = (await app.assessments.listAssessments(mirrored.change.id)).map((a) => a.assessment.gates.find((g) => g.id === 'implement.ci-green')?.result ?? 'absent');
  // Consecutive repeats are one state of the gate.
  return results.filter((r, i) => r !== results[i - 1]);
}

describe('npm start without configuration: the demo event loop', () => {
  it('takes a Scheduled change\'s implement.ci-green from pending to pass on each demo instance', async () => {
    for (const instance of ['sn-demo', 'jsm-demo']) {
      const { key } = await story('gate', instance);
      const seen = await until(`implement.ci-green of ${key} to pass`, async () => {
        const results = await ciGreenResults(instance, key);
        return results.at(-1) === 'pass' ? results : null;
      });
      expect(seen[0]).toBe('pending');
      expect(seen.at(-1)).toBe('pass');
    }
  }, 120_000);

  it('posts a critical alert during hypercare to the ServiceNow ticket, then its resolution, each once', async () => {
    const { key, service } = await story('hypercare', 'sn-demo');
    const mirrored = await app.store.getChange(key, { instance: 'sn-demo' });
    const sysId = mirrored?.change.nativeId as string;
    const sim = app.demo?.simulators.servicenow;
    const hypercareNotes = () => (sim?.journalFor(sysId) ?? []).filter((row) => row['element'] === 'work_notes' && (row['value'] ?? '').includes('Hypercare:')).map((row) => row['value'] ?? '');
    const notes = await until(`the hypercare notes on ${key}`, async () => {
      const found = hypercareNotes();
      return found.some((n) => n.includes('resolved')) ? found : null;
    });
    expect(notes).toHaveLength(2);
    expect(notes.find((n) => n.includes('firing'))).toContain(`critical alert "5xx ratio above 5% on ${service} for 5 minutes" firing on ${service}`);
    expect(notes.find((n) => n.includes('firing'))).toContain('holds closure until it resolves');
    expect(notes.find((n) => !n.includes('firing on'))).toContain(`on ${service} resolved`);
  }, 120_000);
});
