/**
 * Issue #14: the broker's CONNECT check (login.ts) without aedes or sockets, with a fake clock:
 * credentials, client id rules (no session takeover), the lock-out and the CONNECT rate, and
 * whether a session's credential is still valid. Over real sockets: security/mqtt-auth.test.ts,
 * security/mqtt-tls.test.ts (client certificates), unit/broker/connect-limits.test.ts.
 */
import type { Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { CERTIFICATE_CREDENTIAL, createLogin, type LoginResult } from '../../../services/broker/login.ts';
import type { BrokerDevice } from '../../../services/broker/permission.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { createLogger } from '../../../services/core/logger.ts';

const registry: Record<string, BrokerDevice> = {
  'cam-1': { kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null },
  'gw-1': { kind: 'gateway', protocol: 'wardwatch', topic: null, parentId: null },
  'lamp-t': { kind: 'light', protocol: 'tasmota', topic: 'tasmota_5C2B3A', parentId: null },
  'lamp-u': { kind: 'light', protocol: 'tasmota', topic: 'tasmota_77AA00', parentId: null },
};
const secrets: Record<string, string> = { 'cam-1': 's1', 'gw-1': 'sg', 'lamp-t': 'st', 'lamp-u': 'su' };

function setup(limits: { connectRate?: { ratePerS: number; burst: number } } = {}) {
  const config = loadConfig({
    env: {},
    overrides: {
      broker: {
        connectLimits: {
          windowS: 300,
          maxFailuresPerDevice: 3,
          maxFailuresPerAddress: 5,
          lockoutS: 60,
          deviceSlowdownAfterFailures: 20,
          deviceMaxDelayS: 60,
        },
        limits: { connectRate: { ratePerS: 1000, burst: 1000, exemptAddresses: [], ...limits.connectRate } },
      },
    },
  });
  const clock = { t: 1_700_000_000_000, now: () => clock.t };
  const stats = { authFailures: 0, lockedOut: 0, connectRateLimited: 0 };
  let verifications = 0;
  /** Client id → device id of its live session (the broker's byClientId). */
  const sessions = new Map<string, string>();
  const valid = new Set(['cam-1:1', 'gw-1:1', 'lamp-t:1', 'lamp-u:1']);
  const login = createLogin({
    config,
    log: createLogger('silent'),
    clock,
    stats,
    verifyDevice: async (id, secret) => {
      verifications++;
      return secrets[id] === secret ? 1 : null;
    },
    credentialValid: (id, gen) => valid.has(`${id}:${gen}`),
    lookupDevice: (id) => registry[id] ?? null,
    addressOf: (client) => (client as unknown as { conn: { remoteAddress: string } }).conn.remoteAddress,
    sessionDeviceOf: (clientId) => sessions.get(clientId),
  });
  const connect = (clientId: string, username: string | undefined, password?: string, ip = '10.0.0.1') =>
    login.authenticate(
      { id: clientId, conn: { remoteAddress: ip } } as unknown as Client,
      username,
      password === undefined ? undefined : Buffer.from(password),
    );
  return { login, connect, clock, stats, sessions, valid, config, verifications: () => verifications };
}

const reasonOf = (r: LoginResult) => (r.ok ? null : r.error.message);

describe('login: credentials', () => {
  it('accepts a device with its secret; the session carries device id, credential and publish rate', async () => {
    const { connect, config } = setup();
    const cam = await connect('cam-1', 'cam-1', 's1');
    expect(cam).toEqual({
      ok: true,
      session: { deviceId: 'cam-1', credential: 1, publishLimit: config.broker.limits.publishRate.device },
    });
    // A gateway speaks for its children: its own (larger) publish rate.
    const gw = await connect('gw-1', 'gw-1', 'sg');
    expect(gw.ok && gw.session.publishLimit).toEqual(config.broker.limits.publishRate.gateway);
  });

  it('refuses with CONNACK 5 a wrong secret, no secret, no username, an invalid or unknown id', async () => {
    const { connect, stats, verifications } = setup();
    for (const [user, pass] of [
      ['cam-1', 'wrong'],
      ['cam-1', ''],
      ['cam-1', undefined],
      [undefined, 's1'],
      ['CAM-1', 's1'],
      ['cam-9', 's1'],
    ] as const) {
      const r = await connect(user ?? 'x', user, pass, `10.0.1.${stats.authFailures}`);
      expect(r.ok, `${user}/${pass}`).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ message: 'not authorized', returnCode: 5 });
    }
    expect(stats.authFailures).toBe(6);
    // No scrypt for what cannot be a credential (no secret, no or invalid username).
    expect(verifications()).toBe(2);
  });
});

describe('login: client ids (no session takeover)', () => {
  it('a wardwatch device uses its device id as client id', async () => {
    const { connect } = setup();
    expect(reasonOf(await connect('cam-2', 'cam-1', 's1'))).toBe('client id must equal device id');
    expect(reasonOf(await connect('DVES_123456', 'cam-1', 's1'))).toBe('client id must equal device id');
  });

  it('a stock firmware device keeps its firmware client id, but not another device’s id or session', async () => {
    const { connect, sessions } = setup();
    expect((await connect('DVES_5C2B3A', 'lamp-t', 'st')).ok).toBe(true);
    expect((await connect('lamp-t', 'lamp-t', 'st')).ok).toBe(true);
    expect(reasonOf(await connect('cam-1', 'lamp-t', 'st'))).toBe('client id is another device id');
    sessions.set('DVES_77AA00', 'lamp-u');
    expect(reasonOf(await connect('DVES_77AA00', 'lamp-t', 'st'))).toBe('client id in use by another device');
    // Its own session under that client id: a reconnect, allowed.
    expect((await connect('DVES_77AA00', 'lamp-u', 'su')).ok).toBe(true);
  });
});

describe('login: lock-out with a fake clock (issue #7, #13)', () => {
  it('locks out one (device, address) after its failures, refuses without a secret check, ends after lockoutS', async () => {
    const { connect, clock, stats, verifications } = setup();
    for (let i = 0; i < 3; i++) await connect('cam-1', 'cam-1', 'wrong');
    const checked = verifications();
    expect(reasonOf(await connect('cam-1', 'cam-1', 's1'))).toBe('locked out');
    expect(verifications()).toBe(checked); // no scrypt for a locked-out guesser
    expect(stats.lockedOut).toBe(1);
    // The device itself is not locked out for everyone: another address connects.
    expect((await connect('cam-1', 'cam-1', 's1', '10.0.0.2')).ok).toBe(true);
    clock.t += 59_000;
    expect(reasonOf(await connect('cam-1', 'cam-1', 's1'))).toBe('locked out');
    clock.t += 2_000;
    expect((await connect('cam-1', 'cam-1', 's1')).ok).toBe(true);
  });

  it('locks out an address spraying many device ids', async () => {
    const { connect } = setup();
    for (const id of ['a-1', 'a-2', 'a-3', 'a-4', 'a-5']) await connect(id, id, 'guess', '10.9.9.9');
    expect(reasonOf(await connect('cam-1', 'cam-1', 's1', '10.9.9.9'))).toBe('locked out');
    expect((await connect('cam-1', 'cam-1', 's1', '10.9.9.8')).ok).toBe(true);
  });

  it('client id refusals count as failures too', async () => {
    const { connect, stats } = setup();
    for (let i = 0; i < 3; i++) await connect('cam-x', 'cam-1', 's1');
    expect(stats.authFailures).toBe(3);
    expect(reasonOf(await connect('cam-1', 'cam-1', 's1'))).toBe('locked out');
  });
});

describe('login: CONNECT rate per address (issue #6)', () => {
  it('refuses over the rate before anything else, and admits again as tokens come back', async () => {
    const { connect, clock, stats, verifications } = setup({ connectRate: { ratePerS: 1, burst: 2 } });
    expect((await connect('cam-1', 'cam-1', 's1')).ok).toBe(true);
    expect((await connect('cam-1', 'cam-1', 's1')).ok).toBe(true);
    const before = verifications();
    expect(reasonOf(await connect('cam-1', 'cam-1', 's1'))).toBe('connect rate limited');
    expect(verifications()).toBe(before);
    expect(stats.connectRateLimited).toBe(1);
    expect((await connect('cam-1', 'cam-1', 's1', '10.0.0.2')).ok).toBe(true);
    clock.t += 1_000;
    expect((await connect('cam-1', 'cam-1', 's1')).ok).toBe(true);
  });
});

describe('login: sessionValid', () => {
  it('a secret session lasts while its credential is valid; a certificate session while its device exists', () => {
    const { login, valid } = setup();
    expect(login.sessionValid('cam-1', 1)).toBe(true);
    valid.delete('cam-1:1'); // rotated out
    expect(login.sessionValid('cam-1', 1)).toBe(false);
    expect(login.sessionValid('cam-1', CERTIFICATE_CREDENTIAL)).toBe(true);
    expect(login.sessionValid('cam-9', CERTIFICATE_CREDENTIAL)).toBe(false);
  });
});
