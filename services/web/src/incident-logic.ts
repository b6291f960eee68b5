import type { Alert, Incident } from './types.ts';

/** Pure rules of the incident board (issue #12), unit-tested in test/unit/web. */

/**
 * What the board shows: each open incident once, and only the alerts that belong to none of
 * them (a power cut of 27 lights is one card, not 27). An alert counts as a member by its
 * `incidentId` or by the incident's list of alert ids (whichever arrived first over SSE).
 */
export function boardItems<A extends Pick<Alert, 'id'> & { incidentId?: number | null }>(
  alerts: Iterable<A>,
  incidents: Iterable<Incident>,
): { incidents: Incident[]; alerts: A[] } {
  const open = [...incidents].filter((i) => i.state === 'open');
  const ids = new Set(open.map((i) => i.id));
  const members = new Set(open.flatMap((i) => i.alertIds));
  const rest = [...alerts].filter(
    (a) => !members.has(a.id) && (a.incidentId == null || !ids.has(a.incidentId)),
  );
  open.sort((a, b) => Date.parse(a.openedAt) - Date.parse(b.openedAt) || a.id - b.id);
  return { incidents: open, alerts: rest };
}

/** The summary bar's counts: alerts outside incidents, and open incidents, apart. */
export function boardCounts(
  alerts: Iterable<Pick<Alert, 'id'> & { incidentId?: number | null }>,
  incidents: Iterable<Incident>,
): { alerts: number; incidents: number } {
  const b = boardItems(alerts, incidents);
  return { alerts: b.alerts.length, incidents: b.incidents.length };
}

/** The board's state of an incident: like an alert's (new, acknowledged, resolved). */
export const incidentState = (i: Pick<Incident, 'state' | 'acknowledgedAt'>) =>
  i.state === 'resolved' ? 'resolved' : i.acknowledgedAt ? 'acknowledged' : 'open';

/** "Assigned to me" filter: everything when off; only what is assigned to `me` when on. */
export const assignedMatches = (
  item: { assignee?: string | null },
  me: string | null,
  onlyMine: boolean,
): boolean => !onlyMine || (me !== null && item.assignee === me);

/** Member counts by kind, in the order of the kinds given, skipping kinds with none. */
export function kindCounts(
  byKind: Record<string, number>,
  kinds: readonly string[],
): Array<{ kind: string; n: number }> {
  const known = kinds.filter((k) => (byKind[k] ?? 0) > 0).map((k) => ({ kind: k, n: byKind[k] ?? 0 }));
  const other = Object.entries(byKind)
    .filter(([k, n]) => !kinds.includes(k) && n > 0)
    .map(([kind, n]) => ({ kind, n }));
  return [...known, ...other];
}
