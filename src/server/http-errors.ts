// Maps the error vocabulary onto HTTP: every error body carries a stable code
// and a message naming the field; the status comes from the error table
// (src/errors.ts), nothing is answered from err.message alone.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { asChangegateError, ChangegateError, ERROR_CODES, type ErrorCode, type ErrorKind } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';

/** What a 503 for a busy or faulty store asks the sender to wait: about the store health check's reaction time. */
export const RETRY_AFTER_SECONDS = 5;

/** The codes answered with Retry-After (and documented so in the OpenAPI document). */
export const RETRY_AFTER_CODES: readonly ErrorCode[] = ['CG_STORE_BUSY', 'CG_STORE_UNAVAILABLE'];

export function statusFor(error: ChangegateError): number {
  return ERROR_CODES[error.code].status;
}

export function errorBody(error: ChangegateError): { error: { code: string; kind: ErrorKind; message: string; details: Record<string, unknown> } } {
  return { error: error.toJSON() };
}

/**
 * A framework 4xx (bad JSON, body too large, unsupported content type) as CG_INPUT_INVALID, keeping its status. A body
 * over the route's limit names the limit (fastify's own message does not), so the sender's operator knows what to raise.
 */
export function fromFrameworkError(err: FastifyError, bodyLimit?: number): { error: ChangegateError; status: number } | null {
  if (typeof err.statusCode !== 'number' || err.statusCode < 400 || err.statusCode >= 500) return null;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && bodyLimit !== undefined) {
    return {
      error: new ChangegateError('CG_INPUT_INVALID', `body: larger than the ${bodyLimit} bytes this endpoint takes`, {
        cause: err,
        details: { field: 'body', where: 'body', limit: bodyLimit, fastifyCode: err.code },
      }),
      status: err.statusCode,
    };
  }
  return { error: new ChangegateError('CG_INPUT_INVALID', err.message, { cause: err, details: { fastifyCode: err.code } }), status: err.statusCode };
}

export function installErrorHandler(
  app: { setErrorHandler(handler: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown): unknown },
  metrics: Metrics,
): void {
  app.setErrorHandler((err, request, reply) => {
    const framework = err instanceof ChangegateError ? null : fromFrameworkError(err, request.routeOptions.bodyLimit);
    const error = framework?.error ?? asChangegateError(err);
    const status = framework?.status ?? statusFor(error);
    metrics.httpErrors.inc({ code: error.code });
    if (status >= 500) request.log.error({ err, code: error.code }, error.message);
    // A store that cannot keep the request now may soon: the sender (a webhook source above all) retries rather than drops it.
    if (RETRY_AFTER_CODES.includes(error.code)) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply.status(status).send(errorBody(error));
  });
}
