import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createResponseCache } from '../../../services/api/response-cache.ts';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';

describe('response cache (map and summary)', () => {
  const setup = () => {
    const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
    const cache = createResponseCache(bus);
    let builds = 0;
    const build = (text: string) => () => {
      builds++;
      return text;
    };
    return { bus, cache, build, builds: () => builds };
  };

  it('builds once until an event that changes what it shows; keys (scopes) are separate', () => {
    const { bus, cache, build, builds } = setup();
    expect(cache.get('summary {}', build('a')).text).toBe('a');
    expect(cache.get('summary {}', build('b')).text).toBe('a');
    expect(builds()).toBe(1);
    expect(cache.get('summary {"wards":["w1"]}', build('w1')).text).toBe('w1');
    expect(builds()).toBe(2);
    bus.emit('device.state', {
      deviceId: 'd',
      ward: 'w1',
      kind: 'camera',
      state: 'offline',
      previous: 'online',
      at: 0,
      reason: 'timeout',
    } as WardwatchEvents['device.state']);
    expect(cache.get('summary {}', build('c')).text).toBe('c');
    expect(cache.get('summary {"wards":["w1"]}', build('w1b')).text).toBe('w1b');
    bus.emit('device.deleted', { deviceId: 'd', ward: 'w1' });
    expect(cache.get('summary {}', build('d')).text).toBe('d');
    // An event that shows nowhere in these views (acknowledging) keeps them.
    bus.emit('alert.acknowledged', {} as WardwatchEvents['alert.acknowledged']);
    expect(cache.get('summary {}', build('e')).text).toBe('d');
  });

  it('an expensive answer may be reused for 10× its build time after a change (at most 1 s), a cheap one never', () => {
    const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
    let t = 0;
    const cache = createResponseCache(bus, () => t);
    const slow = (text: string) => () => {
      t += 50; // a 50 ms build (20,000 devices: megabytes)
      return text.padEnd(64 * 1024);
    };
    const change = () => bus.emit('device.deleted', { deviceId: 'x', ward: 'w' });
    expect(cache.get('map', slow('v1')).text.trim()).toBe('v1');
    change();
    t += 400;
    expect(cache.get('map', slow('v2')).text.trim()).toBe('v1'); // 400 ms after: within 500 ms
    t += 200;
    expect(cache.get('map', slow('v2')).text.trim()).toBe('v2'); // 600 ms after: rebuilt
    const cheap = (text: string) => () => {
      t += 1;
      return text;
    };
    expect(cache.get('summary', cheap('s1')).text).toBe('s1');
    change();
    expect(cache.get('summary', cheap('s2')).text).toBe('s2');
  });

  it('a small answer whose build was slow only because the process stalled is never reused stale', () => {
    const bus = new EventBus<WardwatchEvents>(createLogger('silent'));
    let t = 0;
    const cache = createResponseCache(bus, () => t);
    const stalled = (text: string) => () => {
      t += 50; // a GC or a busy machine during a build that costs nothing
      return text;
    };
    const change = () => bus.emit('maintenance.started', {} as WardwatchEvents['maintenance.started']);
    expect(cache.get('summary {}', stalled('{"maintenance":0}')).text).toBe('{"maintenance":0}');
    change();
    expect(cache.get('summary {}', stalled('{"maintenance":1}')).text).toBe('{"maintenance":1}');
  });

  it('gzips once per version', async () => {
    const { cache, build } = setup();
    const body = cache.get('map', build('x'.repeat(10_000)));
    const [a, b] = await Promise.all([body.gzip(), body.gzip()]);
    expect(a).toBe(b);
    expect(gunzipSync(a).toString()).toBe('x'.repeat(10_000));
  });

  it('close() stops listening', () => {
    const { bus, cache } = setup();
    expect(bus.listenerCount('device.state')).toBe(1);
    cache.close();
    expect(bus.listenerCount('device.state')).toBe(0);
  });
});
