// Admin-webhook deliveries as Jira Cloud makes them: asynchronous POSTs with
// `x-atlassian-webhook-identifier` (stable across retries), `-flow`, `-retry`
// on redeliveries and `X-Hub-Signature: sha256=<hex>` over the raw body when a
// secret is set. Seeded chaos (drop, duplicate, reorder) models what the
// receiver must survive; retries follow Jira's policy (408/409/425/429/5xx or
// a failed connection).

import { createHmac, randomUUID } from 'node:crypto';
import { shuffle } from './seeded-random.ts';
import type { WebhookOptions, WebhookStats } from './sim-types.ts';

interface Delivery {
  id: string;
  body: string;
}

const RETRYABLE = new Set([408, 409, 425, 429]);

export function signWebhookBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export class WebhookDispatcher {
  readonly stats: WebhookStats = { emitted: 0, sent: 0, delivered: 0, dropped: 0, duplicated: 0, retried: 0, failed: 0 };
  private readonly opts: WebhookOptions;
  private url: string;
  private readonly random: () => number;
  private pending: Delivery[] = [];
  private scheduled: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<void>>();

  constructor(opts: WebhookOptions) {
    this.opts = opts;
    this.url = opts.url;
    this.random = opts.random ?? Math.random;
  }

  /** Where deliveries go from now on (the receiver's port may only be known once it listens). */
  setUrl(url: string): void {
    this.url = url;
  }

  enqueue(body: string): void {
    this.stats.emitted++;
    this.pending.push({ id: randomUUID(), body });
    // Deliveries queued in the same tick leave together, so `reorder` can shuffle them.
    this.scheduled ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      this.scheduled = null;
      this.drain();
    });
  }

  private drain(): void {
    const batch = this.pending;
    this.pending = [];
    if (this.opts.reorder) shuffle(this.random, batch);
    for (const d of batch) {
      if (this.random() < (this.opts.dropRate ?? 0)) {
        this.stats.dropped++;
        continue;
      }
      this.track(this.send(d, 0));
      if (this.random() < (this.opts.duplicateRate ?? 0)) {
        this.stats.duplicated++;
        this.track(this.send(d, 1));
      }
    }
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async send(d: Delivery, retry: number): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=UTF-8',
      'user-agent': 'Atlassian Webhook HTTP Client',
      'x-atlassian-webhook-identifier': d.id,
      'x-atlassian-webhook-flow': 'Primary',
    };
    if (retry > 0) headers['x-atlassian-webhook-retry'] = String(retry);
    if (this.opts.secret) headers['x-hub-signature'] = signWebhookBody(d.body, this.opts.secret);
    this.stats.sent++;
    let status = 0;
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body: d.body });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      status = 0;
    }
    if (status >= 200 && status < 300) {
      this.stats.delivered++;
      return;
    }
    if (status === 0 || status >= 500 || RETRYABLE.has(status)) {
      if (retry < (this.opts.maxRetries ?? 2)) {
        this.stats.retried++;
        await new Promise((r) => setTimeout(r, 5 * (retry + 1)));
        return this.send(d, retry + 1);
      }
    }
    this.stats.failed++;
  }

  /** Resolves once every queued delivery (and its retries) has been attempted. */
  async flush(): Promise<void> {
    while (this.scheduled || this.pending.length > 0 || this.inflight.size > 0) {
      if (this.scheduled) await this.scheduled;
      else if (this.pending.length > 0) this.drain();
      await Promise.allSettled(this.inflight);
    }
  }
}
