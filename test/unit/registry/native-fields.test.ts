/**
 * Issue #5 registry fields: protocol, topic, kind gateway; migration 5 (devices table rebuilt).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase, SCHEMA_VERSION } from '../../../services/core/sqlite.ts';
import { createDeviceRegistry } from '../../../services/registry/registry.ts';
import { SqliteDeviceRepository } from '../../../services/registry/sqlite-device-repository.ts';

const T0 = Date.parse('2026-11-27T00:00:00Z');
let dir: string;
let file: string;
let db: Database;
const log = createLogger('silent');
const registry = async () => {
  const r = createDeviceRegistry({
    repo: new SqliteDeviceRepository(db),
    bus: new EventBus<WardwatchEvents>(log),
    clock: { now: () => T0 } as never,
    log,
  });
  await r.start();
  return r;
};
const base = { kind: 'light' as const, name: 'Relay', ward: 'binh-ngoc', lat: 21.5, lon: 107.9 };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-native-'));
  file = join(dir, 'wardwatch.db');
  db = openDatabase(file);
});
afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('native protocol fields', () => {
  it('a tasmota device gets topic, protocol and the TelePeriod default of 300 s; fields survive a reload', async () => {
    const r = await registry();
    const { device } = await r.create({
      ...base,
      id: 'light-t1',
      protocol: 'tasmota',
      topic: 'tasmota_5C2B3A',
    });
    expect(device).toMatchObject({ protocol: 'tasmota', topic: 'tasmota_5C2B3A', heartbeatIntervalS: 300 });
    expect((await r.create({ ...base, id: 'light-w1' })).device).toMatchObject({
      protocol: 'wardwatch',
      topic: null,
      heartbeatIntervalS: null,
    });
    expect((await registry()).get('light-t1')).toMatchObject({
      protocol: 'tasmota',
      topic: 'tasmota_5C2B3A',
    });
  });

  it('rejects a missing or malformed topic, a topic on wardwatch, a duplicate topic and a non-wardwatch gateway', async () => {
    const r = await registry();
    await expect(r.create({ ...base, id: 'a', protocol: 'tasmota' })).rejects.toThrow(/topic: required/);
    await expect(r.create({ ...base, id: 'b', protocol: 'shelly-gen2', topic: 'x/#' })).rejects.toThrow(
      /topic: must match/,
    );
    await expect(r.create({ ...base, id: 'c', protocol: 'shelly-gen2', topic: 'wardwatch' })).rejects.toThrow(
      /reserved/,
    );
    await expect(r.create({ ...base, id: 'd', topic: 'abc' })).rejects.toThrow(/only for protocol/);
    await expect(r.create({ ...base, id: 'e', protocol: 'mqtt' as never, topic: 'abc' })).rejects.toThrow(
      /protocol: must be/,
    );
    await r.create({ ...base, id: 'f', protocol: 'shelly-gen2', topic: 'shelly-1' });
    await expect(r.create({ ...base, id: 'g', protocol: 'shelly-gen2', topic: 'shelly-1' })).rejects.toThrow(
      /already uses/,
    );
    // the same topic under another protocol is another namespace
    expect((await r.create({ ...base, id: 'h', protocol: 'esphome', topic: 'shelly-1' })).device.topic).toBe(
      'shelly-1',
    );
    await expect(r.update('h', { topic: 'shelly-1', protocol: 'shelly-gen2' })).rejects.toThrow(
      /already uses/,
    );
    await expect(
      r.create({ ...base, id: 'gw', kind: 'gateway', protocol: 'tasmota', topic: 'gw' }),
    ).rejects.toThrow(/gateway speaks wardwatch/);
    expect((await r.create({ ...base, id: 'gw2', kind: 'gateway' })).device.kind).toBe('gateway');
    // Issue #12: a Frigate NVR is a gateway.
    expect(
      (await r.create({ ...base, id: 'nvr', kind: 'gateway', protocol: 'frigate', topic: 'frigate' })).device,
    ).toMatchObject({ kind: 'gateway', protocol: 'frigate' });
  });
});

describe('migration 5', () => {
  it('rebuilds devices without losing device_status (which cascades from devices)', async () => {
    const r = await registry();
    await r.create({ ...base, id: 'cam-1', kind: 'camera', tags: { pole: 'P1' } });
    db.prepare(
      "INSERT OR REPLACE INTO device_status (device_id, state, last_seen_at, state_since) VALUES ('cam-1', 'online', ?, ?)",
    ).run(T0, T0);
    // Re-run migration 5 (and the later ones) on this database: it is idempotent on a v5 table.
    db.pragma('user_version = 4');
    db.close();
    db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT state FROM device_status WHERE device_id = ?').get('cam-1')).toEqual({
      state: 'online',
    });
    expect((await registry()).get('cam-1')).toMatchObject({
      kind: 'camera',
      tags: { pole: 'P1' },
      protocol: 'wardwatch',
    });
    // the cascade still works on the rebuilt table
    db.prepare("DELETE FROM devices WHERE id = 'cam-1'").run();
    expect(db.prepare('SELECT count(*) AS n FROM device_status').get()).toEqual({ n: 0 });
  });
});
