import type { Outage } from './root-cause.ts';

/**
 * Root cause's recent outages not (yet) in an incident (issue #3), by area: a power zone, else a
 * ward's grid cell of radiusM. An outage is only ever compared with its own zone's or the cells
 * around it, so a city-wide power cut of thousands of devices costs each alert a look at its own
 * area, not at every outage (issue #6 detection).
 */
export interface RecentOutages {
  /**
   * The outages `o` must be compared with that `keep` still admits (the others are dropped), then
   * `o` itself, which is recorded in its own bucket.
   */
  record(o: Outage, keep: (r: Outage) => boolean): Outage[];
  /** Drops these devices' outages from `o`'s buckets (they are in an incident now). */
  remove(o: Outage, deviceIds: ReadonlySet<string>): void;
  /** Issue #14 (a partition taken): adds an outage found in the decision state, unless its device has one. */
  restore(o: Outage): void;
  /** Issue #14 (a partition given up): drops every outage of these devices. */
  forget(deviceIds: ReadonlySet<string>): void;
}

const M_PER_DEG_LAT = 111_320;

export function createRecentOutages(radiusM: number): RecentOutages {
  const recent = new Map<string, Outage[]>();
  /**
   * Metres per degree of longitude, one per ward, fixed by the ward's first outage. Each outage's
   * own cos(latitude) made the x of its cell depend on its latitude: at Móng Cái's 108° E two
   * devices 300 m apart north-south were shifted ~200 m east-west against each other, two cells
   * apart, and never compared (0.5 % of random pairs within radiusM; test/unit/health/recent-
   * outages.test.ts). One scale per ward keeps a ward's cells aligned; taken 1° nearer the pole
   * than that first outage, a cell is at least radiusM wide anywhere within 1° of it (a ward is a
   * few km), so every device within radiusM is still in one of the nine cells.
   */
  const lonScales = new Map<string, number>();
  const mPerDegLonOf = (o: Outage): number => {
    let scale = lonScales.get(o.ward);
    if (scale === undefined) {
      const lat = Math.min(89, Math.abs(o.lat) + 1);
      scale = Math.max(1, M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180));
      lonScales.set(o.ward, scale);
    }
    return scale;
  };

  /**
   * The buckets an outage must be compared with, its own first: its power zone; or, in a ward,
   * its grid cell (radiusM square) and the eight around it — every device within radiusM is in
   * one of them.
   */
  const cellsOf = (o: Outage): string[] => {
    if (o.powerZone !== null) return [`z:${o.powerZone}`];
    const cx = Math.floor((o.lon * mPerDegLonOf(o)) / radiusM);
    const cy = Math.floor((o.lat * M_PER_DEG_LAT) / radiusM);
    const cells = [`w:${o.ward}:${cx}:${cy}`];
    for (let dx = -1; dx <= 1; dx++)
      for (let dy = -1; dy <= 1; dy++)
        if (dx !== 0 || dy !== 0) cells.push(`w:${o.ward}:${cx + dx}:${cy + dy}`);
    return cells;
  };

  const filterCell = (cell: string, keep: (r: Outage) => boolean): Outage[] => {
    const list = recent.get(cell);
    if (!list) return [];
    const kept = list.filter(keep);
    if (kept.length > 0) recent.set(cell, kept);
    else recent.delete(cell);
    return kept;
  };

  return {
    record(o, keep) {
      const cells = cellsOf(o);
      const nearby: Outage[] = [];
      for (const cell of cells) nearby.push(...filterCell(cell, keep));
      const own = cells[0] as string;
      recent.set(own, [...(recent.get(own) ?? []), o]);
      nearby.push(o);
      return nearby;
    },
    remove(o, deviceIds) {
      for (const cell of cellsOf(o)) filterCell(cell, (r) => !deviceIds.has(r.deviceId));
    },
    restore(o) {
      const own = cellsOf(o)[0] as string;
      const list = recent.get(own) ?? [];
      if (!list.some((r) => r.deviceId === o.deviceId)) recent.set(own, [...list, o]);
    },
    forget(deviceIds) {
      for (const cell of [...recent.keys()]) filterCell(cell, (r) => !deviceIds.has(r.deviceId));
    },
  };
}
