import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import type { Clock } from '../../../services/core/clock.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { openDatabase } from '../../../services/core/sqlite.ts';

/** scrypt stand-in whose calls the test finishes by hand, to see how many run at once. */
const pending: Array<() => void> = [];
vi.mock('../../../services/registry/secrets.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../services/registry/secrets.ts')>();
  return {
    ...real,
    hashSecret: (secret: string, p: { logN: number; r: number; p: number }) =>
      new Promise<string>((resolve) => pending.push(() => resolve(real.hashSecret(secret, p) as never))),
  };
});
const { createDeviceRegistry } = await import('../../../services/registry/registry.ts');
const { SqliteDeviceRepository } = await import('../../../services/registry/sqlite-device-repository.ts');

const dir = mkdtempSync(join(tmpdir(), 'ww-rehash-'));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('an import of many devices keeps at most 2 scrypt rehashes on the thread pool at once (issue #13)', async () => {
  const db = openDatabase(join(dir, 'db.sqlite'));
  const clock: Clock = { now: () => 0, setTimeout: () => 0 as never, clearTimeout: () => {} };
  const reg = createDeviceRegistry({
    repo: new SqliteDeviceRepository(db),
    bus: new EventBus<WardwatchEvents>(createLogger('silent')),
    clock,
    log: createLogger('silent'),
  });
  await reg.start();
  for (let i = 0; i < 20; i++)
    await reg.create({
      id: `cam-${i}`,
      kind: 'camera',
      name: `Camera ${i}`,
      ward: 'binh-ngoc',
      lat: 21.5,
      lon: 107.9,
    });
  // Every device is registered (legacy hash) at once; their rehashes wait their turn.
  expect(reg.size()).toBe(20);
  expect(pending).toHaveLength(2);
  // Issue #15: the backlog is visible (wardwatch_device_secret_rehash_pending; the benchmark waits for 0).
  expect(reg.secretStats().rehashPending).toBe(20);
  let done = 0;
  while (pending.length > 0) {
    pending.shift()?.();
    done++;
    await vi.waitFor(() => expect(reg.secretStats().rehashed).toBe(done));
    expect(pending.length).toBeLessThanOrEqual(2);
    await vi.waitFor(() => expect(reg.secretStats().rehashPending).toBe(20 - done));
  }
  expect(done).toBe(20);
  expect(reg.secretStats().rehashPending).toBe(0);
  db.close();
});
