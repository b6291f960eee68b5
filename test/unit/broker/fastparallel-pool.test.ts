/**
 * Issue #15 (broker CPU and garbage per PUBLISH): aedes' mqemitter hands every message to its
 * subscribers through fastparallel, with the list of matching subscriptions. A device's PUBLISH
 * (telemetry, heartbeat) usually matches none, and stock fastparallel 2.4.1 never returned the
 * pooled holder of a call with an empty list: each such call allocated a new holder and its
 * closure (~180 bytes per PUBLISH, bench/broker-publish-alloc.ts). patches/fastparallel+2.4.1.patch
 * returns it to the pool, as a call with functions does once they are done.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// The fastparallel that mqemitter resolves, as it requires it.
const requireFromEmitter = createRequire(createRequire(import.meta.url).resolve('mqemitter'));
type Parallel = (that: unknown, toCall: unknown[], arg: unknown, done: () => void) => void;
const fastparallel = requireFromEmitter('fastparallel') as (opts: {
  results: boolean;
  released: (holder: object) => void;
}) => Parallel;

describe('fastparallel pool (patches/fastparallel+2.4.1.patch)', () => {
  it('reuses its pooled holders for calls with no functions, as mqemitter makes them', () => {
    const holders: object[] = [];
    const parallel = fastparallel({ results: false, released: (h) => holders.push(h) });
    let done = 0;
    for (let i = 0; i < 10; i++) parallel(null, [], 'message', () => done++);
    expect(done).toBe(10);
    // The pool's two holders in turn (stock: ten new ones).
    expect(new Set(holders).size).toBe(2);
  });

  it('still calls every function of a list, then done once', () => {
    const parallel = fastparallel({ results: false, released: () => undefined });
    const seen: string[] = [];
    const deliver = (msg: string, cb: () => void) => {
      seen.push(msg);
      cb();
    };
    let done = 0;
    parallel(null, [], 'a', () => done++);
    parallel(null, [deliver, deliver], 'b', () => done++);
    parallel(null, [], 'c', () => done++);
    parallel(null, [deliver], 'd', () => done++);
    expect(seen).toEqual(['b', 'b', 'd']);
    expect(done).toBe(4);
  });
});
