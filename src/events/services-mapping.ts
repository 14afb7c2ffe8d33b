// The services mapping (`mappings/services.yaml`, kind `services-mapping`):
// which repositories, pipelines, deployment environments and alert labels
// belong to a service or CI as the changes name it, so an event that names no
// change key still reaches the changes on its service.

import { existsSync } from 'node:fs';
import { z } from 'zod';
import { SEVERITIES } from '../domain/events.ts';
import { loadYamlFile, validateYamlSource, type YamlSource } from '../config/yaml-source.ts';
import type { MappingKind } from '../kit/mapping-file.ts';

export const SERVICES_KIND = 'services-mapping';

const PromQuery = z
  .object({
    query: z.string().min(1).describe('An instant PromQL expression returning one series (with several, the largest value is judged).'),
    floor: z.number().nonnegative().default(0).describe('Never degraded at or below this value, whatever the ratio (e.g. 0.01 for 1% errors, 0.3 for 300 ms).'),
  })
  .strict();

const ServicePrometheus = z
  .object({
    errorRate: PromQuery.optional().describe('The error ratio, e.g. sum(rate(http_requests_total{job="payments",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="payments"}[5m])).'),
    latency: PromQuery.optional().describe('A latency, e.g. histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="payments"}[5m]))).'),
    maxRatio: z.number().positive().optional().describe('Degraded above this many times the baseline; default events.prometheus.maxRatio.'),
    severity: z.enum(SEVERITIES).default('high').describe('The severity a degraded result carries (closed.no-alerts holds closure on its severities).'),
  })
  .strict()
  .refine((p) => p.errorRate !== undefined || p.latency !== undefined, 'expected errorRate or latency (or both)');

const ServiceEntry = z
  .object({
    repositories: z.array(z.string().min(1)).default([]).describe('owner/name or project paths whose CI events are this service\'s.'),
    pipelines: z.array(z.string().min(1)).default([]).describe('Workflow or pipeline names (as the CI names them) that build or deploy it.'),
    environments: z.array(z.string().min(1)).default([]).describe('Deployment environments it goes through (informative).'),
    alertLabels: z.record(z.string(), z.string()).default({}).describe('Label values an alert on this service carries, e.g. {service: payments}.'),
    prometheus: ServicePrometheus.optional().describe('PromQL queried during hypercare against the pre-deployment baseline (needs events.prometheus).'),
  })
  .strict();

const ServicesFile = z
  .object({
    kind: z.literal(SERVICES_KIND),
    services: z.record(z.string().min(1), ServiceEntry).default({}).describe('By service or CI name, as the changes name it.'),
  })
  .strict();

export type ServicesMapping = z.output<typeof ServicesFile>['services'];
export type ServiceEntry = z.output<typeof ServiceEntry>;
export type ServicePrometheus = z.output<typeof ServicePrometheus>;

export const servicesMappingKind: MappingKind = {
  kind: SERVICES_KIND,
  validate: (source: YamlSource) => void validateYamlSource(source, ServicesFile, 'CG_MAPPING_INVALID'),
};

/** The mapping at `file`; none (every service unmapped) when the file does not exist. */
export function loadServicesMapping(file: string): ServicesMapping {
  if (!existsSync(file)) return {};
  return loadYamlFile(file, ServicesFile, 'CG_MAPPING_INVALID').services;
}

export { serviceKey } from '../domain/service-key.ts';

/** `team="payments"` or `team=payments`; null for any other matcher (`!=`, `=~`, `!~`) or text. */
export function equalityMatcher(filter: string): { label: string; value: string } | null {
  const m = /^\s*([A-Za-z_]\w*)\s*=(?![~=])\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,]*))\s*$/.exec(filter);
  if (m === null) return null;
  return { label: m[1] as string, value: (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1') };
}

/**
 * The services an Alertmanager pull filtered by these matchers covers: those
 * whose `alertLabels` satisfy every matcher. Undefined (every service) when it
 * has no filter; non-equality matchers are the caller's to refuse.
 */
export function servicesMatching(filters: readonly string[], mapping: ServicesMapping): string[] | undefined {
  if (filters.length === 0) return undefined;
  const matchers = filters.map(equalityMatcher).filter((m): m is { label: string; value: string } => m !== null);
  return Object.entries(mapping)
    .filter(([, entry]) => matchers.every((m) => entry.alertLabels[m.label] === m.value))
    .map(([name]) => name);
}
