// Maps the error vocabulary onto HTTP: every error body carries a stable code
// and a message naming the field; nothing is answered from err.message alone.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { asChangegateError, ChangegateError, type ErrorKind } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';

const STATUS_BY_KIND: Record<ErrorKind, number> = { input: 400, config: 500, upstream: 502, transient: 503, internal: 500 };

export function statusFor(error: ChangegateError): number {
  if (error.code === 'CG_NOT_FOUND' || error.code === 'CG_INSTANCE_UNKNOWN') return 404;
  if (error.code === 'CG_WEBHOOK_SIGNATURE_INVALID' || error.code === 'CG_WEBHOOK_SIGNATURE_MISSING' || error.code === 'CG_UNAUTHORIZED') return 401;
  if (error.code === 'CG_SYNC_BUSY') return 409;
  return STATUS_BY_KIND[error.kind];
}

export function errorBody(error: ChangegateError): { error: { code: string; kind: ErrorKind; message: string; details: Record<string, unknown> } } {
  return { error: error.toJSON() };
}

/** Fastify's own errors (bad JSON, body too large, schema) become CG_INPUT_INVALID with their status kept. */
export function installErrorHandler(
  app: { setErrorHandler(handler: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown): unknown },
  metrics: Metrics,
): void {
  app.setErrorHandler((err, request, reply) => {
    let error: ChangegateError;
    let status: number;
    if (err instanceof ChangegateError) {
      error = err;
      status = statusFor(err);
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      error = new ChangegateError('CG_INPUT_INVALID', err.message, { cause: err, details: { fastifyCode: err.code } });
      status = err.statusCode;
    } else {
      error = asChangegateError(err);
      status = statusFor(error);
    }
    metrics.httpErrors.inc({ code: error.code });
    if (status >= 500) request.log.error({ err, code: error.code }, error.message);
    return reply.status(status).send(errorBody(error));
  });
}
