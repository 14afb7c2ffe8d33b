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

/** The field a framework 4xx is about, and what to say of it: fastify's own messages name neither. */
function frameworkFault(err: FastifyError, request: FastifyRequest): { message: string; field: string; where: 'body' | 'headers'; limit?: number } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // secure-json-parse refuses prototype keys with the same error as a syntax error.
      return { message: 'body: not valid JSON (or it sets __proto__ or constructor.prototype, which is refused)', field: 'body', where: 'body' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { message: 'body: empty, but content-type says application/json; send a JSON object', field: 'body', where: 'body' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // The limit named, so the sender's operator knows what to raise (events.maxBodyBytes for an event source).
      return { message: `body: larger than ${request.routeOptions.bodyLimit} bytes, the most this route takes`, field: 'body', where: 'body', limit: request.routeOptions.bodyLimit };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { message: 'headers content-length: does not match the length of the body sent', field: 'content-length', where: 'headers' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const given = request.headers['content-type'];
      return { message: `headers content-type: ${given === undefined ? 'none' : JSON.stringify(given.slice(0, 80))} is not taken here; send application/json`, field: 'content-type', where: 'headers' };
    }
    default:
      return null;
  }
}

/** A framework 4xx (bad JSON, body too large, unsupported content type) as CG_INPUT_INVALID naming the field, keeping its status. */
export function fromFrameworkError(err: FastifyError, request: FastifyRequest): { error: ChangegateError; status: number } | null {
  if (typeof err.statusCode !== 'number' || err.statusCode < 400 || err.statusCode >= 500) return null;
  const fault = frameworkFault(err, request);
  const message = fault?.message ?? err.message;
  const details = fault === null ? { fastifyCode: err.code } : { field: fault.field, where: fault.where, ...(fault.limit === undefined ? {} : { limit: fault.limit }), fastifyCode: err.code };
  return { error: new ChangegateError('CG_INPUT_INVALID', message, { cause: err, details }), status: err.statusCode };
}

export function installErrorHandler(
  app: { setErrorHandler(handler: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown): unknown },
  metrics: Metrics,
): void {
  app.setErrorHandler((err, request, reply) => {
    const framework = err instanceof ChangegateError ? null : fromFrameworkError(err, request);
    const error = framework?.error ?? asChangegateError(err);
    const status = framework?.status ?? statusFor(error);
    metrics.httpErrors.inc({ code: error.code });
    if (status >= 500) request.log.error({ err, code: error.code }, error.message);
    // A store that cannot keep the request now may soon: the sender (a webhook source above all) retries rather than drops it.
    if (RETRY_AFTER_CODES.includes(error.code)) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply.status(status).send(errorBody(error));
  });
}
