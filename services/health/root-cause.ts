/**
 * Pure decisions behind root-cause suppression (issue #3): flapping, and which recent outages
 * form an area outage. The stateful side is root-cause-service.ts.
 */

export interface FlapState {
  /** Times the device went offline, within the window. */
  offlineAt: number[];
  /** Last state change. */
  lastChangeAt: number;
  flapping: boolean;
}

export interface FlapParams {
  transitions: number;
  windowMs: number;
  stableMs: number;
}

export const newFlapState = (): FlapState => ({ offlineAt: [], lastChangeAt: 0, flapping: false });

/** A state change of the device. `start` is true when it has just begun flapping. */
export function flapOnChange(
  s: FlapState,
  to: 'online' | 'offline' | 'unknown',
  at: number,
  p: FlapParams,
): { state: FlapState; start: boolean } {
  const offlineAt = s.offlineAt.filter((t) => at - t < p.windowMs);
  if (to === 'offline') offlineAt.push(at);
  const start = !s.flapping && offlineAt.length >= p.transitions;
  return { state: { offlineAt, lastChangeAt: at, flapping: s.flapping || start }, start };
}

/** On a clock tick: `stop` is true when a flapping device has been stable for stableMs. */
export function flapOnTick(s: FlapState, now: number, p: FlapParams): { state: FlapState; stop: boolean } {
  if (!s.flapping || now - s.lastChangeAt < p.stableMs) return { state: s, stop: false };
  return { state: { offlineAt: [], lastChangeAt: s.lastChangeAt, flapping: false }, stop: true };
}

export interface Outage {
  deviceId: string;
  alertId: number;
  at: number;
  ward: string;
  powerZone: string | null;
  lat: number;
  lon: number;
}

/** Great-circle distance in metres (haversine). */
export function distanceM(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const r = 6_371_000;
  const rad = Math.PI / 180;
  const dLat = (bLat - aLat) * rad;
  const dLon = (bLon - aLon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(aLat * rad) * Math.cos(bLat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Whether `o` belongs with `anchor`: same power zone, or (neither has one) same ward within radiusM. */
export function sameArea(anchor: Outage, o: Outage, radiusM: number): boolean {
  if (anchor.powerZone !== null || o.powerZone !== null) return anchor.powerZone === o.powerZone;
  return anchor.ward === o.ward && distanceM(anchor.lat, anchor.lon, o.lat, o.lon) <= radiusM;
}

/**
 * Given the outages of the last windowS (still offline), the members of a new area outage that
 * includes `latest`, or null when fewer than minDevices.
 */
export function areaOutageMembers(
  recent: readonly Outage[],
  latest: Outage,
  p: { minDevices: number; windowMs: number; radiusM: number },
): Outage[] | null {
  const members = recent.filter((o) => latest.at - o.at <= p.windowMs && sameArea(latest, o, p.radiusM));
  if (!members.some((o) => o.deviceId === latest.deviceId)) members.push(latest);
  return members.length >= p.minDevices ? members : null;
}

/** An incident resolves when at least resolvePct % of its devices are back. */
export function incidentRecovered(members: number, back: number, resolvePct: number): boolean {
  return members > 0 && (back * 100) / members >= resolvePct;
}

/**
 * The incident's message, from its members now (issue #12: it said "5 devices" — the count when it
 * opened — while it listed 27). Rewritten whenever members join or come back.
 */
export function areaOutageMessage(p: {
  members: number;
  back: number;
  powerZone: string | null;
  ward: string;
  radiusM: number;
}): string {
  const where = p.powerZone ? `power zone ${p.powerZone}` : `ward ${p.ward} within ${p.radiusM} m`;
  const back = p.back > 0 ? `; ${p.back} back online` : '';
  return `Area outage: ${p.members} devices of ${where} went offline${back}`;
}

/** The message of a dead parent's incident (issue #12), from its members now. */
export function deadParentMessage(p: { parentId: string; members: number }): string {
  return `Parent ${p.parentId} offline: ${p.members} devices behind it unreachable`;
}
