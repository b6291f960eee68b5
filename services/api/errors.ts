import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../core/database-unavailable.ts';
import { type ErrorCode, WwError } from '../core/errors.ts';
import { fieldOf } from './validation.ts';

/**
 * The one error handler: every error leaves as `{error: WW_ERR_…, message}`. 4xx messages tell
 * the client what to fix (a 400 names the field); 5xx details are logged, never sent.
 */

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'WW_ERR_API_BAD_REQUEST',
  401: 'WW_ERR_API_UNAUTHORIZED',
  403: 'WW_ERR_API_FORBIDDEN',
  404: 'WW_ERR_API_NOT_FOUND',
  409: 'WW_ERR_API_CONFLICT',
  413: 'WW_ERR_API_PAYLOAD_TOO_LARGE',
  415: 'WW_ERR_API_UNSUPPORTED_MEDIA',
  429: 'WW_ERR_API_TOO_MANY_REQUESTS',
};

/** What a client may learn about a server-side failure. */
const PUBLIC_5XX: Partial<Record<ErrorCode, string>> = {
  WW_ERR_STORAGE_INFLUX_DOWN: 'time-series storage is unavailable; try again later',
  WW_ERR_STORAGE_QUERY: 'time-series query failed',
  WW_ERR_STORAGE_DATABASE_DOWN: 'the database is unavailable; try again later',
};

const send = (reply: FastifyReply, status: number, error: ErrorCode, message: string) =>
  reply.code(status).type('application/json; charset=utf-8').send({ error, message });

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err.validation && err.validation.length > 0) {
    const first = err.validation[0] as { instancePath?: string; message?: string };
    const field = fieldOf(first.instancePath ?? '', err.validationContext ?? 'body');
    return send(reply, 400, 'WW_ERR_API_BAD_REQUEST', `${field}: ${first.message ?? 'invalid'}`);
  }
  if (err instanceof WwError) {
    if (err.statusCode < 500) return send(reply, err.statusCode, err.code, err.message);
    request.log.error({ err, code: err.code }, 'request failed');
    return send(reply, err.statusCode, err.code, PUBLIC_5XX[err.code] ?? 'internal error');
  }
  // Issue #14 (feedhealth): PostgreSQL away (restarting): 503, try again, not a 500 for a bug.
  if (isDatabaseUnavailable(err)) {
    request.log.warn({ err, code: 'WW_ERR_STORAGE_DATABASE_DOWN' }, 'request failed: database unavailable');
    const code = 'WW_ERR_STORAGE_DATABASE_DOWN';
    return send(reply, 503, code, PUBLIC_5XX[code] as string);
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors: content-type parsing, body size, bad JSON…
    const message = err.code?.startsWith('FST_ERR_CTP') ? `body: ${err.message}` : err.message;
    return send(reply, status, CODE_BY_STATUS[status] ?? 'WW_ERR_API_BAD_REQUEST', message);
  }
  request.log.error({ err }, 'request failed');
  return send(reply, 500, 'WW_ERR_API_INTERNAL', 'internal error');
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0];
  return send(reply, 404, 'WW_ERR_API_NOT_FOUND', `no route ${request.method} ${path}`);
}
