// The shape of one CI or monitoring event source (GitHub, GitLab, Jenkins, Azure
// DevOps, Argo CD, Alertmanager, Grafana, PagerDuty, a generic signed JSON). A
// source is a small module exporting one `EventSourceKind`, listed once in the
// sources registry; the ingestion route verifies a delivery on its raw body,
// names it, stores it, and only then normalises it, so every source is judged by
// the same route and tested the same way.

import type { CiEvent, MonitorEvent } from '../domain/events.ts';
import type { StoredEvent } from '../store/event-store.ts';

/** One webhook delivery as it arrived. */
export interface SourceDelivery {
  /** Header names lower-cased, as node gives them; a repeated header joined by ", ". */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures are computed over these bytes, never over re-serialised JSON. */
  rawBody: Buffer;
}

/** `missing`: no signature or token where one is required; `invalid`: one that matches none of the secrets. `detail` names the header. */
export type VerifyResult = { ok: true } | { ok: false; reason: 'missing' | 'invalid'; detail: string };

/** What one delivery says, in the canonical vocabulary. Empty lists for an event type the source ignores (a `ping`, a `requested` run). */
export interface NormalisedEvents {
  ci: CiEvent[];
  monitor: MonitorEvent[];
}

/** The JSON a delivery carries, and the field a refusal of it names (`body`, or the form field it came in). */
export interface DeliveryJson {
  bytes: Buffer;
  field: string;
}

export interface EventSourceKind {
  /** The `kind:` of a configured source: `github`, `gitlab`, `jenkins`, `azure-devops`, `argocd`, `alertmanager`, `grafana`, `pagerduty`, `generic`. */
  kind: string;
  /**
   * Whether the sender can sign with an HMAC keyed by the shared secret, so the
   * secret itself never travels: such a source also takes a results upload
   * signed over its names (X-Changegate-Signature-256). A source whose secret
   * is sent as a token cannot bind anything: one captured request holds it.
   */
  signs: boolean;
  /** Checks the delivery against each configured secret in turn (several during rotation), in constant time per comparison. */
  verify(delivery: SourceDelivery, secrets: readonly string[]): VerifyResult;
  /**
   * Where the delivery's JSON is when not its whole body (GitHub's form
   * encoding: the form field `payload`); throws CG_EVENT_INVALID naming the
   * field when it carries none. Absent: the raw body. Read only after `verify`,
   * which checks the raw body whatever its encoding.
   */
  jsonOf?(delivery: SourceDelivery): DeliveryJson;
  /** The source's own delivery id (`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`, PagerDuty's event id), or null when it sends none: the route then de-duplicates by a hash of the raw body. */
  deliveryId(delivery: SourceDelivery): string | null;
  /**
   * Normalises the parsed body. `sourceId` is the configured source's id (it
   * becomes `CiEvent.source` and the prefix of event ids). Unknown fields are
   * ignored and missing optional ones become null; a body it cannot use at all
   * throws CG_EVENT_INVALID naming the field (answered 400/422 by the route).
   */
  normalise(sourceId: string, delivery: SourceDelivery, body: unknown): NormalisedEvents;
}

/**
 * Adds what a delivery's events point at before they are stored (a GitHub
 * run's artifacts); `final`: the delivery's last attempt, when storing what is
 * known beats failing. Throwing retries the delivery.
 */
export type EventEnricher = (source: string, events: StoredEvent[], options: { final: boolean }) => Promise<StoredEvent[]>;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The JSON a delivery carries (`EventSourceKind.jsonOf`), read the same by the ingestion route and the processor.
 * A leading UTF-8 byte order mark (Windows PowerShell writes one) is not part of the JSON (RFC 8259 lets a reader
 * ignore it); the signature was checked over the bytes as sent, mark included.
 */
export function deliveryJson(kind: EventSourceKind, delivery: SourceDelivery): DeliveryJson {
  const json = kind.jsonOf?.(delivery) ?? { bytes: delivery.rawBody, field: 'body' };
  return json.bytes.subarray(0, UTF8_BOM.length).equals(UTF8_BOM) ? { ...json, bytes: json.bytes.subarray(UTF8_BOM.length) } : json;
}
