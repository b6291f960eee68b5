import type { PgClient, PgPool } from '../../core/postgres/pool.ts';
import type { DeviceState, DeviceStatus, StatusRepository } from '../types.ts';
import { checkDeviceState } from './rows.ts';
import type { BatchPart, TickSource } from './write-behind.ts';

/**
 * A core node's device statuses (issue #14): its devices' last-seen and state in memory, saved in
 * batches by the liveness service, written behind to PostgreSQL (write-behind.ts). A status whose
 * device is not in PostgreSQL's registry (deleted meanwhile) is skipped, as SQLite skips it.
 */
export interface PgStatusStoreOptions {
  pool: PgPool;
  changed: () => void;
}

interface StatusRow {
  device_id: string;
  state: DeviceState;
  last_seen_at: number | null;
  state_since: number;
}

const UPSERT = `INSERT INTO device_status (device_id, state, last_seen_at, state_since)
  SELECT u.* FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(device_id, state, last_seen_at, state_since)
  WHERE EXISTS (SELECT 1 FROM devices d WHERE d.id = u.device_id)
  ON CONFLICT (device_id) DO UPDATE SET
    state = excluded.state, last_seen_at = excluded.last_seen_at, state_since = excluded.state_since`;

const copy = (s: DeviceStatus): DeviceStatus => ({
  deviceId: s.deviceId,
  state: s.state,
  lastSeenAt: s.lastSeenAt,
  stateSince: s.stateSince,
});

export class PgStatusStore implements StatusRepository, TickSource {
  private readonly statuses = new Map<string, DeviceStatus>();
  /** deviceId → its latest save, or null for a delete, since the last batch. */
  private pending = new Map<string, DeviceStatus | null>();
  /** Issue #14 (corepg): devices of a lost partition: never written from here on (see fence). */
  private readonly fenced = new Set<string>();

  constructor(private readonly opts: PgStatusStoreOptions) {}

  loadAll(): DeviceStatus[] {
    return [...this.statuses.values()].map(copy);
  }

  saveBatch(statuses: readonly DeviceStatus[]): void {
    // Checked first: like SQLite's one transaction, a bad row leaves nothing half-applied.
    for (const s of statuses) checkDeviceState(s.state);
    for (const s of statuses) {
      // One copy (the caller's object may be a liveness record, with more fields): both maps share
      // it, and neither changes an entry in place (issue #15, persist).
      const own = copy(s);
      this.statuses.set(s.deviceId, own);
      this.pending.set(s.deviceId, own);
    }
    if (statuses.length > 0) this.opts.changed();
  }

  delete(deviceId: string): void {
    this.statuses.delete(deviceId);
    this.pending.set(deviceId, null);
    this.opts.changed();
  }

  async load(deviceIds: readonly string[]): Promise<void> {
    for (const id of deviceIds) this.fenced.delete(id);
    const { rows } = await this.opts.pool.query<StatusRow>(
      'SELECT device_id, state, last_seen_at, state_since FROM device_status WHERE device_id = ANY($1::text[])',
      [deviceIds],
    );
    for (const r of rows) {
      // What this node saved meanwhile is newer than what PostgreSQL answered.
      if (this.statuses.has(r.device_id) || this.pending.has(r.device_id)) continue;
      this.statuses.set(r.device_id, {
        deviceId: r.device_id,
        state: r.state,
        lastSeenAt: r.last_seen_at,
        stateSince: r.state_since,
      });
    }
  }

  unload(deviceIds: readonly string[]): void {
    for (const id of deviceIds) {
      this.statuses.delete(id);
      this.pending.delete(id); // fenced (decision-state.ts fence): never written by this node
    }
  }

  /** Forgets the devices and writes nothing of theirs again, batches already taken included. */
  fence(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.fenced.add(id);
    this.unload(deviceIds);
  }

  /** The statuses in memory of these devices (what a new owner adopts). */
  statusesOf(deviceIds: readonly string[]): Map<string, DeviceStatus> {
    const out = new Map<string, DeviceStatus>();
    for (const id of deviceIds) {
      const s = this.statuses.get(id);
      if (s) out.set(id, copy(s));
    }
    return out;
  }

  take(): BatchPart | null {
    if (this.pending.size === 0) return null;
    const batch = this.pending;
    this.pending = new Map();
    return { name: 'device_status', size: batch.size, write: (client) => this.write(client, batch) };
  }

  private async write(client: PgClient, batch: ReadonlyMap<string, DeviceStatus | null>): Promise<void> {
    const deleted = [...batch].filter(([id, s]) => s === null && !this.fenced.has(id)).map(([id]) => id);
    const saved = [...batch.values()].filter(
      (s): s is DeviceStatus => s !== null && !this.fenced.has(s.deviceId),
    );
    if (deleted.length > 0) {
      await client.query('DELETE FROM device_status WHERE device_id = ANY($1::text[])', [deleted]);
    }
    if (saved.length > 0) {
      await client.query(UPSERT, [
        saved.map((s) => s.deviceId),
        saved.map((s) => s.state),
        saved.map((s) => s.lastSeenAt),
        saved.map((s) => s.stateSince),
      ]);
    }
  }
}
