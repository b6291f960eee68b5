import { describe, expect, it } from 'vitest';
import {
  decideRetry,
  decideSend,
  planAfterSent,
  planAlertAcknowledged,
  planAlertOpened,
  planAlertResolved,
  planAlertUpdated,
  planIncidentAssigned,
  planIncidentOpened,
  planIncidentResolved,
  routeTargets,
} from '../../../services/notify/planner.ts';
import { type Delivery, dedupeKey, type NewDelivery } from '../../../services/notify/types.ts';
import { alert, notifyConfig, T0 } from './helpers.ts';

let nextId = 1;
const stored = (row: NewDelivery, over: Partial<Delivery> = {}): Delivery => ({
  ...row,
  id: nextId++,
  dedupeKey: dedupeKey(row),
  state: 'pending',
  attempts: 0,
  nextAttemptAt: row.dueAt,
  lastError: null,
  createdAt: T0,
  updatedAt: T0,
  sentAt: null,
  ...over,
});
const targets = (rows: readonly NewDelivery[]) =>
  rows.map((r) => `${r.event}:${r.channel}:${r.recipient}`).sort();

describe('routeTargets', () => {
  const cfg = notifyConfig();
  it('matches by ward, kind, alert type and minimum severity; absent filters match all', () => {
    const cam = {
      ward: 'binh-ngoc',
      kinds: ['camera'] as const,
      type: 'device_offline',
      severity: 'critical' as const,
    };
    expect(routeTargets(cfg, { ...cam, kinds: ['camera'] })).toEqual([
      { channel: 'tg', recipient: '100' },
      { channel: 'hook', recipient: 'ops' },
    ]);
    // major < critical: the camera route's minSeverity excludes it
    expect(routeTargets(cfg, { ...cam, kinds: ['camera'], severity: 'major' })).toEqual([
      { channel: 'tg', recipient: '100' },
    ]);
    // another ward: only the ward-less camera route
    expect(routeTargets(cfg, { ...cam, kinds: ['camera'], ward: 'hoa-chung' })).toEqual([
      { channel: 'hook', recipient: 'ops' },
    ]);
    expect(routeTargets(cfg, { ...cam, kinds: ['light'], ward: 'hoa-chung' })).toEqual([]);
  });

  it('filters by alert type and deduplicates recipients across routes', () => {
    const c = notifyConfig({
      routes: [
        { alertTypes: ['lamp_failure'], channel: 'tg', recipients: ['1', '2'] },
        { channel: 'tg', recipients: ['2'] },
      ],
    });
    const s = { ward: 'w', kinds: ['light'] as const, severity: 'minor' as const };
    expect(routeTargets(c, { ...s, kinds: ['light'], type: 'lamp_failure' }).map((t) => t.recipient)).toEqual(
      ['1', '2'],
    );
    expect(
      routeTargets(c, { ...s, kinds: ['light'], type: 'device_offline' }).map((t) => t.recipient),
    ).toEqual(['2']);
  });
});

describe('planAlertOpened', () => {
  it("queues the opening notifyDelayS after the alert opened, and a critical alert's escalation after escalateAfterS", () => {
    const cfg = notifyConfig();
    const rows = planAlertOpened(cfg, alert());
    expect(targets(rows)).toEqual(['escalated:tg:999', 'opened:hook:ops', 'opened:tg:100']);
    expect(rows.find((r) => r.event === 'opened')?.dueAt).toBe(T0 + 60_000);
    expect(rows.find((r) => r.event === 'escalated')?.dueAt).toBe(T0 + 30 * 60_000);
  });

  it('does not escalate below critical; notifyDelayS 0 means at once; the assignee is a recipient', () => {
    const cfg = notifyConfig({ notifyDelayS: 0 });
    const rows = planAlertOpened(cfg, alert({ severity: 'major', assignee: 'tech.an' } as never));
    expect(targets(rows)).toEqual(['opened:tg:100', 'opened:tg:222']);
    expect(rows.every((r) => r.dueAt === T0)).toBe(true);
  });

  it('an assignee without configured contacts adds nobody', () => {
    const rows = planAlertOpened(notifyConfig(), alert({ assignee: 'nobody' } as never));
    expect(targets(rows).filter((t) => t.startsWith('opened'))).toEqual(['opened:hook:ops', 'opened:tg:100']);
  });
});

describe('decideSend (at send time, with the alert as it is now)', () => {
  it('sends an opening of an open alert', () => {
    expect(decideSend({ event: 'opened' }, alert())).toEqual({ action: 'send' });
  });
  it('cancels an opening of an alert resolved within the delay: nothing is sent at all', () => {
    expect(
      decideSend({ event: 'opened' }, alert({ state: 'resolved', resolvedAt: T0 + 5000 })),
    ).toMatchObject({
      action: 'cancel',
    });
  });
  it('cancels anything but a resolved message of a suppressed alert (suppression may come after opening)', () => {
    const suppressed = alert({ suppressedBy: { reason: 'area_outage', ref: '7' } } as never);
    for (const event of ['opened', 'repeat', 'escalated'] as const) {
      expect(decideSend({ event }, suppressed)).toEqual({ action: 'cancel', reason: 'alert suppressed' });
    }
    expect(decideSend({ event: 'resolved' }, suppressed)).toEqual({ action: 'send' });
  });
  it('stops repeats and escalation once acknowledged, but still sends a pending opening', () => {
    const acked = alert({ state: 'acknowledged', acknowledgedAt: T0 + 1000 });
    expect(decideSend({ event: 'repeat' }, acked)).toEqual({
      action: 'cancel',
      reason: 'alert acknowledged',
    });
    expect(decideSend({ event: 'escalated' }, acked)).toEqual({
      action: 'cancel',
      reason: 'alert acknowledged',
    });
    expect(decideSend({ event: 'opened' }, acked)).toEqual({ action: 'send' });
  });
  it('cancels when the alert is gone', () => {
    expect(decideSend({ event: 'opened' }, null)).toMatchObject({ action: 'cancel' });
  });
});

describe('planAfterSent', () => {
  const cfg = notifyConfig();
  const opening = stored(planAlertOpened(cfg, alert()).find((r) => r.event === 'opened') as NewDelivery, {
    state: 'sent',
  });

  it('an opening of a still open alert schedules repeat 1 repeatIntervalS after it was due, then 2, 3…', () => {
    const [r1, ...rest] = planAfterSent(cfg, opening, alert(), T0 + 61_000);
    expect(rest).toEqual([]);
    expect(r1).toMatchObject({
      event: 'repeat',
      seq: 1,
      dueAt: T0 + 60_000 + 4 * 3600_000,
      recipient: opening.recipient,
    });
    const [r2] = planAfterSent(cfg, stored(r1 as NewDelivery, { state: 'sent' }), alert(), T0 + 5 * 3600_000);
    expect(r2).toMatchObject({ event: 'repeat', seq: 2, dueAt: T0 + 60_000 + 8 * 3600_000 });
  });

  it('an opening delivered late (retries) past the first repeat slot: the repeat is a full interval later', () => {
    const late = T0 + 5 * 3600_000;
    expect(planAfterSent(cfg, opening, alert(), late)).toMatchObject([
      { event: 'repeat', seq: 1, dueAt: late + 4 * 3600_000 },
    ]);
  });

  it('no repeat once acknowledged, or with repeatIntervalS 0', () => {
    expect(planAfterSent(cfg, opening, alert({ state: 'acknowledged' }), T0)).toEqual([]);
    expect(planAfterSent(notifyConfig({ repeatIntervalS: 0 }), opening, alert(), T0)).toEqual([]);
  });

  it('an opening sent while the alert got resolved meanwhile is followed by the resolved message', () => {
    const rows = planAfterSent(
      cfg,
      opening,
      alert({ state: 'resolved', resolvedAt: T0 + 60_500 }),
      T0 + 61_000,
    );
    expect(rows).toMatchObject([{ event: 'resolved', dueAt: T0 + 61_000, recipient: opening.recipient }]);
  });

  it('an alert assigned during the delay: the assignee gets the opening when the routes do', () => {
    const rows = planAfterSent(cfg, opening, alert({ assignee: 'tech.an' } as never), T0 + 61_000);
    expect(targets(rows)).toEqual(['opened:tg:222', `repeat:${opening.channel}:${opening.recipient}`]);
  });
});

describe('planAlertResolved / planAlertAcknowledged / planAlertUpdated', () => {
  const cfg = notifyConfig();
  const rows = planAlertOpened(cfg, alert());
  const tgOpen = rows.find((r) => r.recipient === '100') as NewDelivery;
  const hookOpen = rows.find((r) => r.recipient === 'ops') as NewDelivery;
  const esc = rows.find((r) => r.event === 'escalated') as NewDelivery;

  it('resolved goes only to recipients whose opening was sent; the rest is cancelled', () => {
    const s = [stored(tgOpen, { state: 'sent' }), stored(hookOpen), stored(esc)];
    const plan = planAlertResolved(alert({ state: 'resolved' }), s, new Set(), T0 + 120_000);
    expect(targets(plan.enqueue)).toEqual(['resolved:tg:100']);
    expect(plan.cancel).toEqual([s[1]?.id, s[2]?.id]);
  });

  it('resolved within the delay: nothing to send, every opening cancelled', () => {
    const s = [stored(tgOpen), stored(hookOpen), stored(esc)];
    const plan = planAlertResolved(alert({ state: 'resolved' }), s, new Set(), T0 + 5000);
    expect(plan.enqueue).toEqual([]);
    expect(plan.cancel).toHaveLength(3);
  });

  it('a row in flight is not cancelled (planAfterSent handles it)', () => {
    const s = [stored(tgOpen)];
    expect(
      planAlertResolved(alert({ state: 'resolved' }), s, new Set([s[0]?.id as number]), T0).cancel,
    ).toEqual([]);
  });

  it('acknowledging cancels pending repeats and escalations, not openings', () => {
    const s = [stored(tgOpen), stored(esc), stored({ ...tgOpen, event: 'repeat', seq: 1 })];
    expect(planAlertAcknowledged(s, new Set()).cancel).toEqual([s[1]?.id, s[2]?.id]);
  });

  it('an assignee set after the opening was sent gets the opening at once', () => {
    const assigned = alert({ assignee: 'tech.an' } as never);
    expect(planAlertUpdated(cfg, assigned, [stored(tgOpen)], T0)).toEqual([]);
    const now = T0 + 3600_000;
    expect(planAlertUpdated(cfg, assigned, [stored(tgOpen, { state: 'sent' })], now)).toMatchObject([
      { event: 'opened', channel: 'tg', recipient: '222', dueAt: now },
    ]);
  });
});

describe('incidents', () => {
  const cfg = notifyConfig();
  const incident = {
    id: 7,
    type: 'area_outage' as const,
    ward: 'binh-ngoc',
    powerZone: 'tba-3',
    deviceIds: ['bn-cam-001', 'bn-light-001'],
    state: 'open' as const,
    openedAt: T0,
    resolvedAt: null,
    message: '8 devices offline',
  };

  it('one notice per recipient, at once, with the incident as payload', () => {
    const rows = planIncidentOpened(cfg, incident, ['camera', 'light'], T0 + 1000);
    // incidentSeverity critical + a camera member → both routes
    expect(targets(rows)).toEqual(['opened:hook:ops', 'opened:tg:100']);
    expect(rows.every((r) => r.subjectType === 'incident' && r.dueAt === T0 + 1000)).toBe(true);
    expect(JSON.parse(rows[0]?.payload as string)).toMatchObject({ id: 7, deviceIds: incident.deviceIds });
  });

  it('resolved only where the opening was sent', () => {
    const rows = planIncidentOpened(cfg, incident, ['light'], T0);
    const s = rows.map((r, i) => stored(r, { state: i === 0 ? 'sent' : 'pending' }));
    const plan = planIncidentResolved(
      { ...incident, state: 'resolved', resolvedAt: T0 + 1 },
      s,
      new Set(),
      T0 + 2,
    );
    expect(plan.enqueue).toHaveLength(1);
    expect(plan.enqueue[0]).toMatchObject({ event: 'resolved', recipient: s[0]?.recipient });
    expect(plan.cancel).toEqual(s.slice(1).map((r) => r.id));
  });

  it('issue #12: an assigned open incident goes to the assignee’s contacts at once; unassigned or resolved to nobody', () => {
    const rows = planIncidentAssigned(cfg, { ...incident, assignee: 'tech.an' }, T0 + 5);
    expect(targets(rows)).toEqual(['opened:tg:222']);
    expect(rows[0]).toMatchObject({ subjectType: 'incident', subjectId: '7', dueAt: T0 + 5 });
    expect(planIncidentAssigned(cfg, { ...incident, assignee: null }, T0)).toEqual([]);
    expect(planIncidentAssigned(cfg, { ...incident, assignee: 'nobody' }, T0)).toEqual([]);
    expect(
      planIncidentAssigned(cfg, { ...incident, state: 'resolved', resolvedAt: T0, assignee: 'tech.an' }, T0),
    ).toEqual([]);
  });
});

describe('decideRetry', () => {
  const cfg = notifyConfig({ delivery: { backoffInitialS: 30, backoffMaxS: 3600, giveUpAfterS: 86400 } });
  const row = { dueAt: T0 };
  const transient = { permanent: false, retryAfterMs: null };

  it('backs off exponentially from backoffInitialS, capped at backoffMaxS', () => {
    const waits = [1, 2, 3, 4, 8, 20].map((n) => {
      const d = decideRetry(cfg, row, n, transient, T0);
      return d.state === 'pending' ? (d.nextAttemptAt - T0) / 1000 : d.state;
    });
    expect(waits).toEqual([30, 60, 120, 240, 3600, 3600]);
  });

  it("a channel's retry-after wins over the backoff", () => {
    expect(decideRetry(cfg, row, 1, { permanent: false, retryAfterMs: 7000 }, T0)).toEqual({
      state: 'pending',
      nextAttemptAt: T0 + 7000,
    });
  });

  it('gives up at once on a permanent error, and when the next try would be past giveUpAfterS', () => {
    expect(decideRetry(cfg, row, 1, { permanent: true, retryAfterMs: null }, T0)).toEqual({
      state: 'failed',
    });
    expect(decideRetry(cfg, row, 30, transient, T0 + 86400_000 - 3600_000)).toEqual({
      state: 'pending',
      nextAttemptAt: T0 + 86400_000,
    });
    expect(decideRetry(cfg, row, 30, transient, T0 + 86400_000 - 3599_000)).toEqual({ state: 'failed' });
  });
});
