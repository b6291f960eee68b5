import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../devices/simulator/random.ts';
import { createIncidentService } from '../../../services/health/incident-actions.ts';
import { createMaintenanceService } from '../../../services/health/maintenance.ts';
import { SqliteIncidentRepository } from '../../../services/health/sqlite-incident-repository.ts';
import { createSqliteMaintenanceRepository } from '../../../services/health/sqlite-maintenance-repository.ts';
import { createSqliteOutboxRepository } from '../../../services/notify/sqlite-outbox-repository.ts';
import { createSqliteWardRepository } from '../../../services/wards/sqlite-ward-repository.ts';
import { createWardDirectory } from '../../../services/wards/wards.ts';
import { createHarness, type Harness } from '../api/harness.ts';

/**
 * Issue #7, API fuzzing: mutated params, query strings and bodies (built from each route's
 * TypeBox schema: wrong types, huge strings, deep nesting, `__proto__`/`constructor` keys,
 * invalid UTF-8, bad JSON, wrong content types) at every route of the route table. Nothing may
 * answer 5xx, the process keeps serving valid requests, no prototype is polluted, and every
 * refusal is counted by the server (app.apiRejections()).
 *
 * `npm test` runs a short pass; `npm run fuzz` a long one (WARDWATCH_FUZZ_ITERATIONS per route,
 * WARDWATCH_FUZZ_SEED to replay).
 */

const ITERATIONS = Number(process.env.WARDWATCH_FUZZ_ITERATIONS ?? 12);
const SEED = Number(process.env.WARDWATCH_FUZZ_SEED ?? Date.now() % 1_000_000);

/** mulberry32 (devices/simulator/random.ts): small, seedable, good enough to pick mutations. */
const rng = seededRandom;

const NASTY_STRINGS = [
  '',
  ' ',
  'a'.repeat(70_000),
  '__proto__',
  'constructor',
  '../../etc/passwd',
  '%00',
  '\u0000',
  '\ud800',
  '😀'.repeat(100),
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '-1',
  '0',
  '1e309',
  'NaN',
  '9'.repeat(40),
  'cam-a1',
  'null',
  '{}',
];
const NASTY_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -0,
  Number.MAX_SAFE_INTEGER + 2,
  [],
  {},
  [[[[[]]]]],
  { __proto__: { polluted: true } },
  ...NASTY_STRINGS,
];

function deepNest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

let h: Harness;
let viewer: string;

beforeAll(async () => {
  h = await createHarness({
    deps: ({ db, clock, devices, log, alerts, bus }) => ({
      maintenance: createMaintenanceService({
        repo: createSqliteMaintenanceRepository(db),
        clock,
        defaultTimezone: 'Asia/Ho_Chi_Minh',
        devices,
      }),
      incidents: (() => {
        const repo = new SqliteIncidentRepository(db);
        return createIncidentService({ view: repo, repo, alerts, bus, clock, log });
      })(),
      notifications: createSqliteOutboxRepository(db),
      stateHistory: { stateHistory: async () => new Map(), heartbeatCounts: async () => [] },
      // Issue #12: the ward routes reach their handlers and the directory, not a 404.
      wards: createWardDirectory({ repo: createSqliteWardRepository(db), clock, log }),
    }),
  });
  await h.addDevice({ id: 'cam-a1' });
  // Never named by a mutation: must answer the same after every batch.
  await h.addDevice({ id: 'canary-1' });
  h.openAlert('cam-a1');
  viewer = await h.tokenFor('viewer-f', 'viewer');
});
afterAll(() => h.close());

interface Mutant {
  url: string;
  payload?: string | Buffer;
  headers: Record<string, string>;
  what: string;
}

function mutants(
  route: { method: string; url: string; schema?: { body?: unknown } },
  r: () => number,
): Mutant[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const param = () => {
    try {
      return encodeURIComponent(String(pick(NASTY_VALUES)));
    } catch {
      return pick(['%ED%A0%80', '%FF', '%', '%zz']); // a lone surrogate / invalid percent-encoding
    }
  };
  const url = () =>
    route.url.replace(/:[a-zA-Z]+/g, () => (r() < 0.3 ? (r() < 0.5 ? '1' : 'cam-a1') : param()));
  const query = () => {
    const k = pick([
      'ward',
      'limit',
      'cursor',
      'from',
      'to',
      'state',
      'kind',
      '__proto__[x]',
      'constructor',
      'field',
      'every',
      'format',
      'token',
    ]);
    return `?${k}=${param()}&${k}=${param()}`;
  };
  const schema = route.schema?.body as TSchema | undefined;
  let base: unknown = {};
  try {
    base = schema ? Value.Create(schema) : {};
  } catch {
    base = {};
  }
  const mutateBody = (): unknown => {
    if (base === null || typeof base !== 'object' || Array.isArray(base)) return pick(NASTY_VALUES);
    const copy: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const k =
      keys.length && r() < 0.7 ? pick(keys) : pick(['__proto__', 'constructor', 'prototype', 'extra']);
    copy[k] = r() < 0.2 ? deepNest(Math.floor(r() * 2000)) : pick(NASTY_VALUES);
    return copy;
  };
  const json = { 'content-type': 'application/json' };
  const out: Mutant[] = [
    { url: url() + query(), headers: {}, what: 'params+query' },
    { url: url(), payload: JSON.stringify(mutateBody()), headers: json, what: 'mutated body' },
    {
      url: url(),
      payload: '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
      headers: json,
      what: 'proto keys',
    },
    {
      url: url(),
      payload: pick(['{', '{"a":', 'nul', '[1,]', '"\\ud800"', '\u0000']),
      headers: json,
      what: 'bad JSON',
    },
    {
      url: url(),
      payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d]),
      headers: json,
      what: 'invalid UTF-8',
    },
    // Built as text: JSON.stringify itself would overflow the stack at this depth.
    {
      url: url(),
      payload: `${'{"a":['.repeat(20_000)}1${']}'.repeat(20_000)}`,
      headers: json,
      what: 'deep nesting',
    },
    { url: url(), payload: 'x'.repeat(2 * 1024 * 1024), headers: json, what: 'over 1 MiB' },
    {
      url: url(),
      payload: 'id,kind\n"unterminated',
      headers: {
        'content-type': pick([
          'text/csv',
          'text/plain',
          'application/xml',
          'multipart/form-data; boundary=x',
        ]),
      },
      what: 'other content type',
    },
  ];
  return out;
}

describe('API fuzz (issue #7)', () => {
  it(`never answers 5xx or crashes; every refusal is counted (seed ${SEED}, ${ITERATIONS} per route)`, async () => {
    const r = rng(SEED);
    const routes = h.app.apiRoutes.filter(
      (x) => x.method !== 'HEAD' && x.method !== 'OPTIONS' && !x.url.startsWith('/docs'),
    );
    expect(routes.length).toBeGreaterThan(30);
    const before = Object.values(h.app.apiRejections()).reduce((a, b) => a + b, 0);
    let refused = 0;
    let sent = 0;
    for (const route of routes) {
      // The SSE stream never ends for an authenticated client, and logout would revoke the tokens
      // the loop uses: these two are fuzzed without a valid token.
      const streaming = route.url === '/api/v1/events' || route.url === '/api/v1/auth/logout';
      for (let i = 0; i < ITERATIONS; i++) {
        for (const m of mutants(route, r)) {
          const token = streaming ? null : r() < 0.8 ? h.adminToken : r() < 0.5 ? viewer : 'garbage';
          const headers = { ...m.headers, ...(token && { authorization: `Bearer ${token}` }) };
          const res = await h.app.inject({
            method: route.method as 'GET',
            url: m.url,
            headers,
            ...(route.method !== 'GET' &&
              route.method !== 'DELETE' &&
              m.payload !== undefined && { payload: m.payload }),
          });
          sent++;
          const label = `seed ${SEED} ${route.method} ${m.url.slice(0, 120)} (${m.what}) → ${res.statusCode} ${res.body.slice(0, 200)}`;
          expect(res.statusCode, label).toBeLessThan(500);
          if (res.statusCode >= 400) {
            refused++;
            if (res.headers['content-type']?.toString().includes('json')) {
              expect(JSON.parse(res.body).error, label).toMatch(/^WW_ERR_/);
            }
          }
        }
      }
      // Still alive and still right after each route's batch.
      expect((await h.call('GET', '/healthz')).status).toBe(200);
      const ok = await h.call('GET', '/api/v1/devices/canary-1', { token: h.adminToken });
      expect(ok.status, `after ${route.method} ${route.url}`).toBe(200);
      expect(ok.body.name).toBe('Device canary-1');
    }
    const after = Object.values(h.app.apiRejections()).reduce((a, b) => a + b, 0);
    expect(sent).toBeGreaterThan(routes.length * ITERATIONS * 7);
    expect(refused).toBeGreaterThan(0);
    expect(after - before).toBe(refused);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  }, 600_000);
});
