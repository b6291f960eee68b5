import { describe, expect, it } from 'vitest';
import {
  type LiveRecord,
  livenessStep,
  neverSeenRecord,
  newRecord,
  offlineAlertAction,
  restoreRecord,
} from '../../../services/health/liveness.ts';

const T0 = Date.parse('2026-11-27T00:00:00Z');
const TIMEOUT = 90_000;

describe('livenessStep', () => {
  it('a new device is unknown with no deadline', () => {
    const r = newRecord('cam-1', T0);
    expect(r).toEqual({
      deviceId: 'cam-1',
      state: 'unknown',
      lastSeenAt: null,
      stateSince: T0,
      expiresAt: null,
    });
  });

  it('a sign of life makes an unknown device online and sets the deadline', () => {
    const { record, transition } = livenessStep(newRecord('cam-1', T0), {
      type: 'sign_of_life',
      at: T0 + 5,
      timeoutMs: TIMEOUT,
    });
    expect(record.state).toBe('online');
    expect(record.lastSeenAt).toBe(T0 + 5);
    expect(record.stateSince).toBe(T0 + 5);
    expect(record.expiresAt).toBe(T0 + 5 + TIMEOUT);
    expect(transition).toEqual({ from: 'unknown', to: 'online', at: T0 + 5, reason: 'sign_of_life' });
  });

  it('further signs of life only move last-seen and the deadline', () => {
    const online = livenessStep(newRecord('cam-1', T0), {
      type: 'sign_of_life',
      at: T0,
      timeoutMs: TIMEOUT,
    }).record;
    const { record, transition } = livenessStep(online, {
      type: 'sign_of_life',
      at: T0 + 30_000,
      timeoutMs: TIMEOUT,
    });
    expect(transition).toBeNull();
    expect(record.stateSince).toBe(T0);
    expect(record.lastSeenAt).toBe(T0 + 30_000);
    expect(record.expiresAt).toBe(T0 + 30_000 + TIMEOUT);
  });

  it('a deadline before expiry changes nothing; at expiry the device goes offline at the deadline', () => {
    const online = livenessStep(newRecord('cam-1', T0), {
      type: 'sign_of_life',
      at: T0,
      timeoutMs: TIMEOUT,
    }).record;
    expect(livenessStep(online, { type: 'deadline', at: T0 + TIMEOUT - 1 }).transition).toBeNull();
    const { record, transition } = livenessStep(online, { type: 'deadline', at: T0 + TIMEOUT + 700 });
    expect(record.state).toBe('offline');
    expect(record.stateSince).toBe(T0 + TIMEOUT);
    expect(record.expiresAt).toBeNull();
    expect(transition).toEqual({
      from: 'online',
      to: 'offline',
      at: T0 + TIMEOUT,
      reason: 'heartbeat_timeout',
    });
  });

  it('status offline (or the last will) takes a device offline at once, and only once', () => {
    const online = livenessStep(newRecord('l-1', T0), {
      type: 'sign_of_life',
      at: T0,
      timeoutMs: TIMEOUT,
    }).record;
    const first = livenessStep(online, { type: 'status_offline', at: T0 + 10 });
    expect(first.record.state).toBe('offline');
    expect(first.record.expiresAt).toBeNull();
    expect(first.transition?.reason).toBe('status_offline');
    expect(livenessStep(first.record, { type: 'status_offline', at: T0 + 20 }).transition).toBeNull();
  });

  it('an offline device comes back online on any sign of life', () => {
    const offline: LiveRecord = {
      deviceId: 'l-1',
      state: 'offline',
      lastSeenAt: T0,
      stateSince: T0 + 1,
      expiresAt: null,
    };
    const { record, transition } = livenessStep(offline, {
      type: 'sign_of_life',
      at: T0 + 500,
      timeoutMs: TIMEOUT,
    });
    expect(record.state).toBe('online');
    expect(transition).toMatchObject({ from: 'offline', to: 'online' });
  });

  it('a stale deadline on an offline device does nothing', () => {
    const offline: LiveRecord = {
      deviceId: 'l-1',
      state: 'offline',
      lastSeenAt: T0,
      stateSince: T0,
      expiresAt: null,
    };
    expect(livenessStep(offline, { type: 'deadline', at: T0 + 10 * TIMEOUT }).transition).toBeNull();
  });
});

describe('restoreRecord (restart safety)', () => {
  const NOW = T0 + 3_600_000;
  it('never assumes a device online after a restart: unknown, deadline counted from start-up', () => {
    const r = restoreRecord(
      { deviceId: 'c', state: 'online', lastSeenAt: T0, stateSince: T0 },
      'c',
      NOW,
      TIMEOUT,
      T0,
    );
    expect(r.state).toBe('unknown');
    expect(r.lastSeenAt).toBe(T0);
    expect(r.expiresAt).toBe(NOW + TIMEOUT);
    // and it then goes offline at that deadline if it stays silent
    const { transition } = livenessStep(r, { type: 'deadline', at: NOW + TIMEOUT });
    expect(transition).toMatchObject({ from: 'unknown', to: 'offline', reason: 'heartbeat_timeout' });
  });

  it('a device already offline stays offline with no deadline (no second alert for one outage)', () => {
    const r = restoreRecord(
      { deviceId: 'c', state: 'offline', lastSeenAt: T0, stateSince: T0 + 5 },
      'c',
      NOW,
      TIMEOUT,
      T0,
    );
    expect(r).toEqual({
      deviceId: 'c',
      state: 'offline',
      lastSeenAt: T0,
      stateSince: T0 + 5,
      expiresAt: null,
    });
  });

  it('issue #13: a device never seen is unknown until its deadline, counted from start-up when registered before it', () => {
    expect(restoreRecord(undefined, 'c', NOW, TIMEOUT, T0)).toEqual({
      ...newRecord('c', NOW),
      expiresAt: NOW + TIMEOUT,
    });
    const r = restoreRecord(
      { deviceId: 'c', state: 'unknown', lastSeenAt: null, stateSince: T0 },
      'c',
      NOW,
      TIMEOUT,
      T0,
    );
    expect(r).toMatchObject({ state: 'unknown', stateSince: T0, expiresAt: NOW + TIMEOUT });
    expect(livenessStep(r, { type: 'deadline', at: NOW + TIMEOUT - 1 }).transition).toBeNull();
    expect(livenessStep(r, { type: 'deadline', at: NOW + TIMEOUT }).transition).toEqual({
      from: 'unknown',
      to: 'offline',
      at: NOW + TIMEOUT,
      reason: 'never_reported',
    });
  });
});

describe('never reported (issue #13)', () => {
  const START = T0 + 3_600_000;

  it('the deadline counts from registration or start-up, whichever is later', () => {
    expect(neverSeenRecord('c', START, T0, START, TIMEOUT).expiresAt).toBe(START + TIMEOUT);
    expect(neverSeenRecord('c', START + 5000, START + 5000, START, TIMEOUT).expiresAt).toBe(
      START + 5000 + TIMEOUT,
    );
  });

  it('silent past the deadline: offline, reason never_reported, and the offline alert opens', () => {
    const r = neverSeenRecord('c', START, T0, START, TIMEOUT);
    const { record, transition } = livenessStep(r, { type: 'deadline', at: START + TIMEOUT + 40 });
    expect(record).toMatchObject({
      state: 'offline',
      lastSeenAt: null,
      stateSince: START + TIMEOUT,
      expiresAt: null,
    });
    expect(transition).toEqual({
      from: 'unknown',
      to: 'offline',
      at: START + TIMEOUT,
      reason: 'never_reported',
    });
    expect(offlineAlertAction(transition!)).toBe('open');
  });

  it('a device that reports within its deadline is online and its old deadline does nothing', () => {
    const r = neverSeenRecord('c', START, T0, START, TIMEOUT);
    const alive = livenessStep(r, { type: 'sign_of_life', at: START + TIMEOUT - 1, timeoutMs: TIMEOUT });
    expect(alive.transition).toMatchObject({ from: 'unknown', to: 'online' });
    expect(livenessStep(alive.record, { type: 'deadline', at: START + TIMEOUT }).transition).toBeNull();
  });

  it('one that was seen once and then fell silent is a heartbeat timeout, not never reported', () => {
    const r = neverSeenRecord('c', START, T0, START, TIMEOUT);
    const alive = livenessStep(r, { type: 'sign_of_life', at: START + 10, timeoutMs: TIMEOUT }).record;
    expect(livenessStep(alive, { type: 'deadline', at: START + 10 + TIMEOUT }).transition?.reason).toBe(
      'heartbeat_timeout',
    );
  });
});
