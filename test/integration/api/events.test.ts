import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/app.ts';
import { createHarness, type Harness, T0 } from './harness.ts';

let h: Harness;
let base: string;
let viewerBn: string;

/** A real HTTP connection to the SSE route, read as it arrives. */
interface Stream {
  res: IncomingMessage;
  text(): string;
  /** Resolves once the received text matches. */
  until(re: RegExp, timeoutMs?: number): Promise<string>;
  ended: Promise<void>;
  close(): void;
}

function openStream(path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}${path}`, { headers }, (res) => {
      let buf = '';
      const waiters: Array<() => void> = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (const w of waiters.splice(0)) w();
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      resolve({
        res,
        text: () => buf,
        ended,
        close: () => req.destroy(),
        until(re, timeoutMs = 15_000) {
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`no ${re} in stream; got:\n${buf}`)), timeoutMs);
            const check = () => {
              const m = re.exec(buf);
              if (m) {
                clearTimeout(timer);
                ok(m[0]);
              } else waiters.push(check);
            };
            check();
          });
        },
      });
    });
    req.on('error', reject);
  });
}

/** Parses `event:`/`data:` blocks. */
const events = (text: string) =>
  text
    .split('\n\n')
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1],
      data: /^data: (.*)$/m.exec(block)?.[1],
    }))
    .filter((e) => e.event)
    .map((e) => ({ event: e.event as string, data: JSON.parse(e.data as string) }));

/** The `at` of a marker event that a stream already ended must never get. */
const MARKER_AT = T0 + 4242;

const stateEvent = (deviceId: string, ward: string) => ({
  deviceId,
  ward,
  kind: 'camera' as const,
  state: 'offline' as const,
  previous: 'online' as const,
  at: T0 + 1234,
  reason: 'heartbeat_timeout',
});

beforeAll(async () => {
  h = await createHarness();
  viewerBn = await h.tokenFor('viewer.bn', 'viewer', ['binh-ngoc']);
  await h.addDevice({ id: 'cam-bn-1', ward: 'binh-ngoc' });
  await h.addDevice({ id: 'cam-hc-1', ward: 'hoa-chung' });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(() => h.close());

describe('GET /api/v1/events (Server-Sent Events)', () => {
  it('streams device.state and alert events as text/event-stream', async () => {
    const s = await openStream('/api/v1/events', { authorization: `Bearer ${h.adminToken}` });
    try {
      expect(s.res.statusCode).toBe(200);
      expect(s.res.headers['content-type']).toMatch(/^text\/event-stream/);
      await s.until(/retry: \d+/);
      h.bus.emit('device.state', stateEvent('cam-hc-1', 'hoa-chung'));
      const alertId = h.openAlert('cam-bn-1', 'device_offline');
      const ack = await h.call('POST', `/api/v1/alerts/${alertId}/ack`, {
        token: h.adminToken,
        body: { note: 'ok' },
      });
      expect(ack.status).toBe(200);
      await s.until(/event: alert\.acknowledged/);
      const got = events(s.text());
      expect(got.map((e) => e.event)).toEqual(['device.state', 'alert.opened', 'alert.acknowledged']);
      expect(got[0]?.data).toEqual({
        deviceId: 'cam-hc-1',
        ward: 'hoa-chung',
        kind: 'camera',
        state: 'offline',
        previous: 'online',
        at: new Date(T0 + 1234).toISOString(),
        reason: 'heartbeat_timeout',
      });
      expect(got[1]?.data).toMatchObject({ id: alertId, deviceId: 'cam-bn-1', state: 'open' });
      expect(got[1]?.data.openedAt).toMatch(/Z$/);
      expect(got[2]?.data).toMatchObject({
        id: alertId,
        state: 'acknowledged',
        acknowledgedBy: 'admin',
        note: 'ok',
      });
    } finally {
      s.close();
    }
  });

  it('filters to the user’s wards; EventSource-style ?token= works here', async () => {
    const s = await openStream(`/api/v1/events?token=${viewerBn}`);
    try {
      expect(s.res.statusCode).toBe(200);
      await s.until(/retry:/);
      h.bus.emit('device.state', stateEvent('cam-hc-1', 'hoa-chung'));
      h.openAlert('cam-hc-1', 'tamper');
      h.bus.emit('device.state', stateEvent('cam-bn-1', 'binh-ngoc'));
      // Events arrive in bus order on one connection: once the binh-ngoc one is here, the
      // hoa-chung ones would have been too.
      await s.until(/"deviceId":"cam-bn-1"/);
      const got = events(s.text());
      expect(got).toHaveLength(1);
      expect(got[0]?.data).toMatchObject({ deviceId: 'cam-bn-1', ward: 'binh-ngoc' });
      expect(s.text()).not.toContain('hoa-chung');
    } finally {
      s.close();
    }
  });

  it('sends a ping comment every 15 s', async () => {
    const s = await openStream('/api/v1/events', { authorization: `Bearer ${h.adminToken}` });
    try {
      await s.until(/retry:/);
      h.clock.advance(14_999);
      h.bus.emit('device.state', stateEvent('cam-bn-1', 'binh-ngoc')); // a marker: everything before it has arrived
      await s.until(/event: device\.state/);
      expect(s.text()).not.toContain(': ping');
      h.clock.advance(1);
      await s.until(/^: ping$/m);
      h.clock.advance(15_000);
      await s.until(/: ping\n\n[\s\S]*: ping\n\n/);
    } finally {
      s.close();
    }
  });

  it('streams share the bus listeners of the SSE hub, and a closed stream leaves no timer behind', async () => {
    const names = ['device.state', 'alert.opened', 'alert.acknowledged', 'alert.resolved'] as const;
    const listeners = () => names.map((n) => h.bus.listenerCount(n));
    // The map and summary cache (response-cache.ts), the map's per-device features
    // (map-features.ts), the summary's kept counts (summary-counts.ts, device.state only) and the
    // SSE hub (sse-hub.ts, one listener for all streams) listen for the life of the app: opening a
    // stream adds no listener, so a burst of events costs the same however many maps are open.
    const baseline = [4, 3, 1, 3];
    const settle = () =>
      waitFor(() => h.clock.pending() === 0, 'no stream timer left').catch(() => undefined);
    await settle(); // streams of earlier tests are gone
    expect(listeners()).toEqual(baseline);
    const s = await openStream('/api/v1/events', { authorization: `Bearer ${h.adminToken}` });
    await s.until(/retry:/);
    expect(listeners()).toEqual(baseline);
    expect(h.clock.pending()).toBe(2); // its ping timer and its token's expiry (issue #13)
    s.close();
    await settle();
    expect(h.clock.pending()).toBe(0);
    expect(listeners()).toEqual(baseline);
  });

  it('401 without a token or with a bad one', async () => {
    const none = await openStream('/api/v1/events');
    expect(none.res.statusCode).toBe(401);
    none.close();
    const bad = await openStream('/api/v1/events?token=nope');
    expect(bad.res.statusCode).toBe(401);
    bad.close();
  });
});

/** Issue #13 item 8: a stream lives no longer than its token, nor than the user's role and wards. */
describe('streams end with their session', () => {
  let seq = 0;
  /** A new user with a token and an open stream on it. */
  const userStream = async (role: 'viewer' | 'technician' = 'viewer', wards = ['binh-ngoc']) => {
    const username = `sse.user${++seq}`;
    const token = await h.tokenFor(username, role, wards);
    const s = await openStream(`/api/v1/events?token=${token}`);
    expect(s.res.statusCode).toBe(200);
    await s.until(/retry:/);
    return { username, token, s };
  };
  /**
   * Resolves with the reason of the stream's last event once the server closed it. Call it right
   * after the request that must end the stream has been answered. Issue #13 item 4: "closed at
   * once" is shown by a marker, not by a wall-clock bound: an event emitted now, after the answer,
   * must not reach the stream (it was ended by then); the wait itself is only a guard against a
   * stream that never ends, whose reason is printed.
   */
  const endedWith = async (s: Stream): Promise<string> => {
    h.bus.emit('device.state', { ...stateEvent('cam-bn-1', 'binh-ngoc'), at: MARKER_AT });
    let guard: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      s.ended,
      new Promise((_, fail) => {
        guard = setTimeout(() => fail(new Error(`stream still open:\n${s.text()}`)), 20_000);
      }),
    ]).finally(() => clearTimeout(guard));
    const all = events(s.text());
    expect(all.filter((e) => e.data?.at === new Date(MARKER_AT).toISOString())).toEqual([]);
    const last = all.at(-1);
    expect(last?.event).toBe('session.ended');
    return last?.data.reason;
  };
  const patch = (username: string, body: unknown) =>
    h.call('PATCH', `/api/v1/users/${username}`, { token: h.adminToken, body });

  it('logout closes the streams of that token, not of the user’s other tokens', async () => {
    const { username, token, s } = await userStream();
    const login = await h.call('POST', '/api/v1/auth/login', {
      body: { username, password: `password-${username}` },
    });
    const other = await openStream(`/api/v1/events?token=${login.body.token}`);
    await other.until(/retry:/);
    const res = await h.call('POST', '/api/v1/auth/logout', { token });
    expect(res.status).toBe(204);
    expect(await endedWith(s)).toBe('logout');
    // The stream of the user's other token still delivers.
    h.bus.emit('device.state', stateEvent('cam-bn-1', 'binh-ngoc'));
    await other.until(/event: device\.state/);
    other.close();
  });

  it('a password change closes the user’s streams', async () => {
    const { username, s } = await userStream();
    expect((await patch(username, { password: 'a-new-password' })).status).toBe(200);
    expect(await endedWith(s)).toBe('password_changed');
  });

  it('disabling the user closes their streams', async () => {
    const { username, s } = await userStream();
    expect((await patch(username, { disabled: true })).status).toBe(200);
    expect(await endedWith(s)).toBe('disabled');
  });

  it('a role change closes the user’s streams; the token keeps working with the new role', async () => {
    const { username, token, s } = await userStream('technician');
    expect((await patch(username, { role: 'viewer' })).status).toBe(200);
    expect(await endedWith(s)).toBe('user_changed');
    expect((await h.call('GET', '/api/v1/auth/me', { token })).body).toMatchObject({ role: 'viewer' });
  });

  it('a ward change closes the user’s streams; a reconnect is filtered by the new wards', async () => {
    const { username, token, s } = await userStream('viewer', ['binh-ngoc']);
    expect((await patch(username, { wards: ['hoa-chung'] })).status).toBe(200);
    expect(await endedWith(s)).toBe('user_changed');
    const again = await openStream(`/api/v1/events?token=${token}`);
    await again.until(/retry:/);
    h.bus.emit('device.state', stateEvent('cam-bn-1', 'binh-ngoc'));
    h.bus.emit('device.state', stateEvent('cam-hc-1', 'hoa-chung'));
    await again.until(/"deviceId":"cam-hc-1"/);
    expect(again.text()).not.toContain('cam-bn-1');
    again.close();
  });

  it('the stream closes when its token expires (injected clock)', async () => {
    const { s } = await userStream();
    h.clock.advance(h.config.auth.tokenTtlS * 1000 - 1);
    // A marker: had the stream ended at the last ping, this would not arrive.
    h.bus.emit('device.state', stateEvent('cam-bn-1', 'binh-ngoc'));
    await s.until(/event: device\.state/);
    h.clock.advance(1);
    expect(await endedWith(s)).toBe('expired');
  });
});

describe('shutdown with open streams', () => {
  it('close() ends open SSE streams instead of waiting for clients', async () => {
    const own = await createHarness();
    await own.app.listen({ host: '127.0.0.1', port: 0 });
    const ownBase = `http://127.0.0.1:${(own.app.server.address() as AddressInfo).port}`;
    const s = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${ownBase}/api/v1/events?token=${own.adminToken}`, resolve).on('error', reject);
    });
    s.resume();
    const ended = new Promise<void>((r) => s.on('close', () => r()));
    // Issue #13 item 4: the bound is a requirement, not a guess at this machine's speed: a stop
    // must end within `docker stop`'s 10 s grace (then SIGKILL). Without ending the streams,
    // close() waits for the client forever.
    const started = Date.now();
    await own.close();
    await ended;
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
