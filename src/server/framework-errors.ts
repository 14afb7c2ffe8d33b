// Answers the framework and Node's HTTP parser would otherwise give in their
// own shapes (a malformed percent-escape, a parameter past the router's
// limit, oversized headers, a request Node cannot parse, a known path asked
// with a method it does not take) in the one error shape, with a CG_ code.

import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ChangegateError, type ErrorCode } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { errorBody, statusFor } from './http-errors.ts';

/** Longest raw path parameter the router hands on; the routes' schemas refuse far shorter values with a message naming the field. */
export const MAX_PARAM_LENGTH = 2048;

/** Fastify's `frameworkErrors`: errors raised while routing, before any route or hook runs. */
export function answerFrameworkError(metrics: Metrics) {
  return (err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void => {
    let error: ChangegateError;
    if (err.code === 'FST_ERR_BAD_URL') {
      error = new ChangegateError('CG_INPUT_INVALID', 'path: not a valid URL (a malformed percent-escape)', { details: { field: 'path', where: 'path' } });
    } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      error = new ChangegateError('CG_INPUT_INVALID', `params: a path parameter is longer than ${MAX_PARAM_LENGTH} characters`, {
        details: { field: 'params', where: 'params', max: MAX_PARAM_LENGTH },
      });
    } else {
      error = new ChangegateError('CG_INTERNAL', err.message, { cause: err });
    }
    metrics.httpErrors.inc({ code: error.code });
    void reply.status(statusFor(error)).send(errorBody(error));
  };
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', message: 'headers: larger than the server takes (16 KiB in all)' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', message: 'request: not received in time' },
};

/** Node's `clientError`: the request could not be parsed, so no route (or fastify) sees it; the answer is written on the socket. */
export function answerClientError(metrics: Metrics) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const known = CLIENT_ERRORS[err.code ?? ''];
    const { status, reason, message } = known ?? { status: 400, reason: 'Bad Request', message: 'request: not a well-formed HTTP/1.1 request (method, target or headers)' };
    const code: ErrorCode = 'CG_INPUT_INVALID';
    metrics.httpErrors.inc({ code });
    const body = JSON.stringify(errorBody(new ChangegateError(code, message, { details: { where: 'request', parser: err.code ?? null } })));
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
