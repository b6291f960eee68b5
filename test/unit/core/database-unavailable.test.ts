import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../../services/core/database-unavailable.ts';

/** Issue #14 (feedhealth): which errors mean "PostgreSQL cannot be reached now" (503, not 500). */
describe('isDatabaseUnavailable', () => {
  const err = (message: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), extra);

  it.each([
    ['connection refused', err('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' })],
    ['connection reset', err('read ECONNRESET', { code: 'ECONNRESET' })],
    ['admin shutdown (57P01)', err('terminating connection due to administrator command', { code: '57P01' })],
    ['starting up (57P03)', err('the database system is starting up', { code: '57P03' })],
    ['class 08', err('connection failure', { code: '08006' })],
    ['pg: connection terminated', err('Connection terminated unexpectedly')],
    ['pg pool: connect timeout', err('timeout exceeded when trying to connect')],
    ['in a cause', err('query failed', { cause: err('x', { code: 'ECONNREFUSED' }) })],
    [
      'in an AggregateError',
      Object.assign(new AggregateError([err('x', { code: 'ECONNREFUSED' })], 'all failed')),
    ],
  ])('%s: unavailable', (_name, e) => {
    expect(isDatabaseUnavailable(e)).toBe(true);
  });

  it.each([
    ['a unique violation (23505)', err('duplicate key', { code: '23505' })],
    ['a syntax error (42601)', err('syntax error', { code: '42601' })],
    ['a plain bug', new TypeError('x is undefined')],
    ['not an error', 'ECONNREFUSED'],
    ['null', null],
  ])('%s: not', (_name, e) => {
    expect(isDatabaseUnavailable(e)).toBe(false);
  });
});
