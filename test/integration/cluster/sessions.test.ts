import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionListener } from '../../../services/broker/mqtt-broker.ts';
import type { FeedRedis } from '../../../services/cluster/feed.ts';
import { createNodeChannel, type NodeCommand } from '../../../services/cluster/node-channel.ts';
import {
  createSessionRegistry,
  nodeAliveKey,
  type SessionBroker,
  type SessionRegistry,
  sessionKey,
} from '../../../services/cluster/sessions.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { waitFor } from '../../helpers/app.ts';
import { type RedisInstance, startRedis } from '../../helpers/redis.ts';

/**
 * The session registry and node channels of two nodes on a real redis-server (issue #14), each over
 * a recording broker: what the registry asks of the broker, in order. The real brokers are in
 * session-takeover.test.ts.
 */
const log = createLogger('silent');

function recordingBroker() {
  const calls: string[] = [];
  let listener: SessionListener | null = null;
  const broker: SessionBroker = {
    onSession(l) {
      listener = l;
      return () => {
        listener = null;
      };
    },
    closeSessionQuietly: (id) => {
      calls.push(`quiet ${id}`);
      return true;
    },
    sendCommand: async (id, command, payload) => {
      calls.push(`cmd ${id} ${command} ${payload.toString()}`);
    },
    disconnectDevice: (id, device) => calls.push(`disconnect ${id} ${device?.protocol}`),
    dropRevokedSessions: (id) => calls.push(`revoke ${id}`),
  };
  return {
    broker,
    calls,
    start: (id: string) => listener?.started(id),
    end: (id: string) => listener?.ended(id),
  };
}

describe('session registry and node channels (issue #14)', () => {
  let redis: RedisInstance;
  const clients: FeedRedis[] = [];
  const stops: Array<() => Promise<void>> = [];

  const connect = async () => {
    const c = createClient({ url: redis.url }) as unknown as FeedRedis;
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };

  /** A node: registry + channel over its own two connections; `handled` records its channel's commands. */
  async function node(nodeId: string, aliveTtlS?: number) {
    const commands = await connect();
    const subscriber = await connect();
    const b = recordingBroker();
    const handled: NodeCommand[] = [];
    let sessions: SessionRegistry | null = null;
    const channel = createNodeChannel({
      nodeId,
      redis: commands,
      subscriber,
      log,
      handle: (cmd) => {
        handled.push(cmd);
        sessions?.handle(cmd);
      },
    });
    sessions = createSessionRegistry({
      nodeId,
      redis: commands,
      broker: b.broker,
      send: channel.send,
      log,
      aliveTtlS,
    });
    await channel.start();
    sessions.start();
    stops.push(async () => {
      sessions?.stop();
      await channel.stop();
    });
    return { ...b, sessions, channel, handled };
  }

  let raw: FeedRedis;
  beforeAll(async () => {
    redis = await startRedis();
    raw = await connect();
  });
  afterAll(async () => {
    for (const s of stops) await s();
    for (const c of clients) await c.close().catch(() => undefined);
    await redis?.destroy();
  });

  it('a device connecting on B takes its session over from A; A releases nothing that is B’s', async () => {
    const a = await node('a');
    const b = await node('b');
    a.start('cam-1');
    await waitFor(async () => (await a.sessions.holderOf('cam-1')) === 'a', 'A holds cam-1');
    const aValue = await raw.get(sessionKey('cam-1'));

    b.start('cam-1');
    await waitFor(() => a.calls.includes('quiet cam-1'), 'A asked to close cam-1 quietly');
    expect(a.handled).toMatchObject([{ type: 'takeover', deviceId: 'cam-1' }]);
    expect(await b.sessions.holderOf('cam-1')).toBe('b');
    const bValue = String(await raw.get(sessionKey('cam-1')));
    expect(Number(bValue.split(':')[0])).toBeGreaterThan(Number(String(aValue).split(':')[0]));

    // A's old session closes: the key is B's and stays B's (compare and delete).
    a.end('cam-1');
    // A's release and this GET are on different connections: wait for A's release to have run by
    // sending a command through A's own connection afterwards (Redis answers one connection in order).
    await a.sessions.holderOf('cam-1');
    expect(await raw.get(sessionKey('cam-1'))).toBe(bValue);
    expect(a.sessions.stats()).toMatchObject({ takenOver: 1, staleTakeovers: 0 });
    expect(b.sessions.stats()).toMatchObject({ takeoversSent: 1 });

    // B's own clean end deletes it.
    b.end('cam-1');
    await waitFor(async () => (await raw.get(sessionKey('cam-1'))) === null, 'B released cam-1');
  });

  it('ignores a takeover older than the session it holds (the device came back meanwhile)', async () => {
    const a = await node('a2');
    a.start('cam-2');
    await waitFor(async () => (await a.sessions.holderOf('cam-2')) === 'a2', 'A holds cam-2');
    const generation = Number(String(await raw.get(sessionKey('cam-2'))).split(':')[0]);

    await a.channel.send('a2', { type: 'takeover', deviceId: 'cam-2', generation: generation - 1 });
    await a.channel.send('a2', { type: 'takeover', deviceId: 'cam-2', generation });
    await waitFor(() => a.handled.length === 2, 'both takeovers handled');
    expect(a.calls).toEqual([]);
    expect(a.sessions.stats().staleTakeovers).toBe(2);

    await a.channel.send('a2', { type: 'takeover', deviceId: 'cam-2', generation: generation + 1 });
    await waitFor(() => a.calls.length === 1, 'the newer takeover handled');
    expect(a.calls).toEqual(['quiet cam-2']);
  });

  it('routes commands and revocations to the node holding the session', async () => {
    const a = await node('a3');
    const b = await node('b3');
    a.start('cam-3');
    await waitFor(async () => (await b.sessions.holderOf('cam-3')) === 'a3', 'A holds cam-3');

    await b.sessions.sendCommand('cam-3', 'reboot', '{"delayS":1}');
    await b.sessions.forwardRevocation('cam-3', 'rotated', {
      kind: 'camera',
      protocol: 'wardwatch',
      topic: null,
      parentId: null,
    });
    await b.sessions.forwardRevocation('cam-3', 'deleted', {
      kind: 'light',
      protocol: 'tasmota',
      topic: 'light-3',
      parentId: null,
    });
    await waitFor(() => a.calls.length === 3, 'A ran the three commands');
    expect(a.calls).toEqual(['cmd cam-3 reboot {"delayS":1}', 'revoke cam-3', 'disconnect cam-3 tasmota']);
    expect(b.calls).toEqual([]);

    // No holder: the command is published locally (where it would wait for nothing).
    await b.sessions.sendCommand('nobody', 'reboot', '{}');
    expect(b.calls).toEqual(['cmd nobody reboot {}']);
    await expect(b.sessions.sendCommand('cam-3', 'Bad Name', '')).rejects.toThrow(/invalid command name/);
  });

  it('counts and logs a malformed command, and keeps listening', async () => {
    const a = await node('a4');
    await raw.publish('ww:node:a4', 'not json');
    await raw.publish(
      'ww:node:a4',
      JSON.stringify({ v: 1, type: 'takeover', deviceId: 'x', generation: -1 }),
    );
    await raw.publish('ww:node:a4', JSON.stringify({ v: 1, type: 'explode', deviceId: 'x' }));
    await a.channel.send('a4', { type: 'revoke', deviceId: 'cam-4' });
    await waitFor(() => a.calls.length === 1, 'the valid command after the bad ones');
    expect(a.calls).toEqual(['revoke cam-4']);
    expect(a.channel.stats()).toEqual({ received: 1, malformed: 3 });
  });

  it('a killed node’s session keys are ignored and deleted once its alive key expired (issue #14)', async () => {
    const x = await node('x', 0.3); // alive for 300 ms after its last refresh
    const y = await node('y');
    x.start('cam-k');
    await waitFor(async () => String(await raw.get(sessionKey('cam-k'))).endsWith(':x'), 'x holds cam-k');
    expect(await y.sessions.holderOf('cam-k')).toBe('x'); // alive: routed to x
    // kill -9: x stops refreshing, releases nothing; its key stays, its alive key expires.
    x.sessions.stop();
    await waitFor(async () => (await raw.exists(nodeAliveKey('x'))) === 0, 'x’s alive key expired');
    expect(await raw.get(sessionKey('cam-k'))).toMatch(/:x$/);

    // A command for cam-k is not routed to the dead node: the stale key is deleted, y's broker tried.
    const before = y.sessions.stats().staleSessions;
    await y.sessions.sendCommand('cam-k', 'reboot', '{}');
    expect(y.calls).toContain('cmd cam-k reboot {}');
    expect(y.sessions.stats().staleSessions).toBe(before + 1);
    expect(await raw.get(sessionKey('cam-k'))).toBeNull();
    expect(x.handled).toEqual([]);

    // A stale key replaced by a new session: no takeover sent to the dead node.
    // A key x left behind (as its claims wrote them), x dead.
    await raw.set(sessionKey('cam-k2'), '999999:x');
    const sent = y.sessions.stats().takeoversSent;
    y.start('cam-k2');
    await waitFor(() => y.sessions.stats().staleSessions === before + 2, 'the dead holder seen');
    expect(y.sessions.stats().takeoversSent).toBe(sent);
    expect(await y.sessions.holderOf('cam-k2')).toBe('y');
  });
});
