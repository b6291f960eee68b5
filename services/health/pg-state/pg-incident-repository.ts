import type { PgClient, PgPool } from '../../core/postgres/pool.ts';
import type { Incident, IncidentRepository, IncidentWork, NewIncident } from '../types.ts';
import type { IdBlocks } from './id-blocks.ts';
import { checkIncidentType, type IncidentRow, toIncident } from './rows.ts';
import type { BatchPart, TickSource } from './write-behind.ts';

/**
 * A core node's incidents (issue #14): the open incidents of its devices (and the recently resolved
 * ones) in memory, changed synchronously by root cause and the incident actions, written behind to
 * PostgreSQL (write-behind.ts) as whole rows by id. Ids come from reserved blocks (id-blocks.ts), so
 * two nodes never number two incidents alike. Reads answer from memory.
 */
export interface PgIncidentStoreOptions {
  pool: PgPool;
  incidentIds: IdBlocks;
  changed: () => void;
  /** Resolved incidents kept in memory (oldest forgotten first). */
  resolvedKept?: number;
}

const COLUMNS =
  'id, type, ward, power_zone, parent_id, device_ids, alert_ids, state, opened_at, resolved_at, message, ' +
  'acknowledged_at, acknowledged_by, resolved_by, assignee';

/** JSONB members travel as JSON text (a JS array would be sent as a PostgreSQL array). */
const UPSERT = `INSERT INTO incidents (${COLUMNS})
  SELECT id, type, ward, power_zone, parent_id, device_ids::jsonb, alert_ids::jsonb, state, opened_at,
    resolved_at, message, acknowledged_at, acknowledged_by, resolved_by, assignee
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::bigint[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::text[])
    AS u(${COLUMNS})
  ON CONFLICT (id) DO UPDATE SET ${COLUMNS.split(', ')
    .slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;

const copy = (i: Incident): Incident => ({ ...i, deviceIds: [...i.deviceIds], alertIds: [...i.alertIds] });

export class PgIncidentStore implements IncidentRepository, TickSource {
  private readonly byId = new Map<number, Incident>();
  private readonly resolvedOrder = new Set<number>();
  private dirty = new Set<number>();
  /**
   * Issue #14 (pgloose): devices of a lost partition (see `fence`): an incident of theirs is not
   * written from here on, rows already taken into a queued batch included, until they are loaded again.
   */
  private readonly fenced = new Set<string>();
  private readonly resolvedKept: number;

  constructor(private readonly opts: PgIncidentStoreOptions) {
    this.resolvedKept = opts.resolvedKept ?? 1_000;
  }

  create(n: NewIncident): Incident {
    checkIncidentType(n.type);
    const incident: Incident = {
      id: this.opts.incidentIds.next(),
      type: n.type,
      ward: n.ward,
      powerZone: n.powerZone,
      parentId: n.parentId ?? null,
      deviceIds: [...n.deviceIds],
      alertIds: [...n.alertIds],
      state: 'open',
      openedAt: n.openedAt,
      resolvedAt: null,
      message: n.message,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedBy: null,
      assignee: null,
    };
    this.byId.set(incident.id, incident);
    this.touch(incident.id);
    return copy(incident);
  }

  get(id: number): Incident | null {
    const i = this.byId.get(id);
    return i ? copy(i) : null;
  }

  listOpen(): Incident[] {
    return [...this.byId.values()]
      .filter((i) => i.state === 'open')
      .sort((a, b) => a.id - b.id)
      .map(copy);
  }

  list(f: {
    ward?: string;
    wards?: readonly string[];
    state?: 'open' | 'resolved';
    assignee?: string;
    limit: number;
  }): Incident[] {
    const wards = f.wards && f.wards.length > 0 ? new Set(f.wards) : null;
    return [...this.byId.values()]
      .filter(
        (i) =>
          (f.state === undefined || i.state === f.state) &&
          (f.ward === undefined || i.ward === f.ward) &&
          (wards === null || wards.has(i.ward)) &&
          (f.assignee === undefined || i.assignee === f.assignee),
      )
      .sort((a, b) => b.id - a.id)
      .slice(0, Math.max(0, f.limit))
      .map(copy);
  }

  setMembers(id: number, deviceIds: readonly string[], alertIds: readonly number[], message: string) {
    return this.change(id, true, (i) => {
      i.deviceIds = [...deviceIds];
      i.alertIds = [...alertIds];
      i.message = message;
    });
  }

  setMessage(id: number, message: string): Incident | null {
    return this.change(id, true, (i) => (i.message = message));
  }

  resolve(id: number, at: number, by = 'system'): Incident | null {
    return this.change(id, this.byId.get(id)?.state === 'open', (i) => {
      i.state = 'resolved';
      i.resolvedAt = at;
      i.resolvedBy = by;
    });
  }

  acknowledge(id: number, by: string, at: number): Incident | null {
    const i = this.byId.get(id);
    // The first acknowledgement stands (as for alerts).
    return this.change(id, i?.state === 'open' && i.acknowledgedAt === null, (x) => {
      x.acknowledgedAt = at;
      x.acknowledgedBy = by;
    });
  }

  setAssignee(id: number, assignee: string | null): Incident | null {
    return this.change(id, true, (i) => (i.assignee = assignee));
  }

  /** Issue #15: without copying the member lists (`get` copies them for each joining alert). */
  workOf(id: number): IncidentWork | null {
    const i = this.byId.get(id);
    return i
      ? {
          id: i.id,
          state: i.state,
          acknowledgedAt: i.acknowledgedAt,
          acknowledgedBy: i.acknowledgedBy,
          assignee: i.assignee,
        }
      : null;
  }

  /** Loads the open incidents with a member (or the parent) among devices this node now owns. */
  async load(deviceIds: readonly string[]): Promise<void> {
    for (const id of deviceIds) this.fenced.delete(id);
    const { rows } = await this.opts.pool.query<IncidentRow>(
      `SELECT * FROM incidents
       WHERE state = 'open' AND (device_ids ?| $1::text[] OR parent_id = ANY($1::text[]))`,
      [deviceIds],
    );
    for (const r of rows) if (!this.byId.has(r.id)) this.byId.set(r.id, toIncident(r));
  }

  /** Forgets incidents whose members (and parent) are all among devices this node gave up. */
  unload(deviceIds: readonly string[]): void {
    const gone = new Set(deviceIds);
    for (const i of [...this.byId.values()]) {
      if (this.among(i, gone)) {
        this.byId.delete(i.id);
        this.resolvedOrder.delete(i.id);
        this.dirty.delete(i.id); // fenced (decision-state.ts fence): never written by this node
      }
    }
  }

  /**
   * Forgets the devices' incidents and never writes them again, not even rows already taken into a
   * batch (issue #14, pgloose: the partition was lost; the new owner may already have changed them,
   * and this node's stale whole rows would undo that). A transaction already running may still
   * commit. An incident's members and parent share a partition (cluster/partition.ts), so an
   * incident is this node's wholly or not at all.
   */
  fence(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.fenced.add(id);
    this.unload(deviceIds);
  }

  /** Every member (and the parent) among `devices`: the incident goes with them. */
  private among(i: Incident, devices: ReadonlySet<string>): boolean {
    return i.deviceIds.every((d) => devices.has(d)) && (i.parentId === null || devices.has(i.parentId));
  }

  take(): BatchPart | null {
    if (this.dirty.size === 0) return null;
    const rows = [...this.dirty].flatMap((id) => {
      const i = this.byId.get(id);
      return i ? [copy(i)] : [];
    });
    this.dirty = new Set();
    return { name: 'incidents', size: rows.length, write: (client) => this.write(client, rows) };
  }

  private async write(client: PgClient, taken: readonly Incident[]): Promise<void> {
    const rows = this.fenced.size === 0 ? taken : taken.filter((i) => !this.among(i, this.fenced));
    if (rows.length === 0) return;
    await client.query(UPSERT, [
      rows.map((i) => i.id),
      rows.map((i) => i.type),
      rows.map((i) => i.ward),
      rows.map((i) => i.powerZone),
      rows.map((i) => i.parentId),
      rows.map((i) => JSON.stringify(i.deviceIds)),
      rows.map((i) => JSON.stringify(i.alertIds)),
      rows.map((i) => i.state),
      rows.map((i) => i.openedAt),
      rows.map((i) => i.resolvedAt),
      rows.map((i) => i.message),
      rows.map((i) => i.acknowledgedAt),
      rows.map((i) => i.acknowledgedBy),
      rows.map((i) => i.resolvedBy),
      rows.map((i) => i.assignee),
    ]);
  }

  /** As SQLite answers: the incident as it is after the change (or unchanged), null when unknown. */
  private change(id: number, when: boolean, apply: (i: Incident) => void): Incident | null {
    const i = this.byId.get(id);
    if (!i) return null;
    if (when) {
      apply(i);
      this.touch(id);
      if (i.state === 'resolved') this.keepResolved(id);
    }
    return copy(i);
  }

  private keepResolved(id: number): void {
    this.resolvedOrder.add(id);
    for (const old of this.resolvedOrder) {
      if (this.resolvedOrder.size <= this.resolvedKept) break;
      if (this.dirty.has(old)) continue;
      this.resolvedOrder.delete(old);
      this.byId.delete(old);
    }
  }

  private touch(id: number): void {
    this.dirty.add(id);
    this.opts.changed();
  }
}
