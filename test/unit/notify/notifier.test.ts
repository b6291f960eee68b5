import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { systemClock } from '../../../services/core/clock.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { type Database, openDatabase } from '../../../services/core/sqlite.ts';
import type { Alert, Incident } from '../../../services/health/types.ts';
import { createNotifier, type Notifier } from '../../../services/notify/notifier.ts';
import { DeliveryError, type NotificationProvider } from '../../../services/notify/providers/provider.ts';
import { createSqliteOutboxRepository } from '../../../services/notify/sqlite-outbox-repository.ts';
import type { NotifyConfig, OutgoingMessage } from '../../../services/notify/types.ts';
import { alert, notifyConfig, T0 } from './helpers.ts';

/** A channel that records what it was asked to send; `failures` makes the next sends throw. */
class FakeProvider implements NotificationProvider {
  readonly type = 'webhook' as const;
  sent: Array<{ recipient: string; message: OutgoingMessage; at: number }> = [];
  failures: DeliveryError[] = [];
  async send(recipient: string, message: OutgoingMessage) {
    const f = this.failures.shift();
    if (f) throw f;
    this.sent.push({ recipient, message, at: Date.now() });
    return { providerMessageId: null };
  }
}

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

let db: Database;
let bus: EventBus<WardwatchEvents>;
let tg: FakeProvider;
let notifier: Notifier;
const alerts = new Map<number, Alert>();

function start(cfg: NotifyConfig): void {
  const log = createLogger('silent');
  bus = new EventBus<WardwatchEvents>(log);
  tg = new FakeProvider();
  notifier = createNotifier({
    notify: cfg,
    log,
    clock: systemClock,
    bus,
    outbox: createSqliteOutboxRepository(db),
    alerts: { get: (id) => alerts.get(id) ?? null },
    devices: { get: () => null },
    providers: new Map([['tg', tg]]),
  });
  notifier.start();
}

/** Stores the alert's new state and emits the event, as the alert service does. */
function emit(event: 'alert.opened' | 'alert.acknowledged' | 'alert.resolved' | 'alert.updated', a: Alert) {
  alerts.set(a.id, a);
  bus.emit(event, a);
}

const sentEvents = () => tg.sent.map((s) => `${s.message.event}@${(s.at - T0) / S}s`);
const onlyTg = (over: Record<string, unknown> = {}) =>
  notifyConfig({
    routes: [{ channel: 'tg', recipients: ['100'] }],
    // Rows wake the worker themselves; a long poll keeps hours of fake time cheap.
    delivery: { pollIntervalMs: 60_000 },
    ...over,
  });

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  db = openDatabase(':memory:');
  alerts.clear();
});
afterEach(async () => {
  await notifier?.stop();
  db.close();
  vi.useRealTimers();
});

describe('notifier timing (fake clock)', () => {
  it("issue #15: as the outbox's sole writer it does not poll every second, and still sends on time", async () => {
    const log = createLogger('silent');
    bus = new EventBus<WardwatchEvents>(log);
    tg = new FakeProvider();
    const outbox = createSqliteOutboxRepository(db);
    let looks = 0;
    const counted = {
      ...outbox,
      nextDueAt: () => {
        looks++;
        return outbox.nextDueAt();
      },
    };
    notifier = createNotifier({
      // The default pollIntervalMs (1 s).
      notify: notifyConfig({ routes: [{ channel: 'tg', recipients: ['100'] }] }),
      log,
      clock: systemClock,
      bus,
      outbox: counted,
      alerts: { get: (id) => alerts.get(id) ?? null },
      devices: { get: () => null },
      providers: new Map([['tg', tg]]),
      soleWriter: true,
    });
    notifier.start();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    // Once a minute as a safety net, not 600 times (each a wake-up and two SQLite queries).
    expect(looks).toBeLessThanOrEqual(12);
    emit('alert.opened', alert({ openedAt: Date.now() }));
    await vi.advanceTimersByTimeAsync(59 * S);
    expect(tg.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1 * S);
    expect(tg.sent.map((x) => `${x.message.event}@${(x.at - T0) / S - 600}s`)).toEqual(['opened@60s']);
  });

  it('an offline alert is notified notifyDelayS after it opened, not before', async () => {
    start(onlyTg());
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(59 * S);
    expect(tg.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1 * S);
    expect(sentEvents()).toEqual(['opened@60s']);
    expect(tg.sent[0]?.recipient).toBe('100');
  });

  it('an alert resolved within notifyDelayS pages nobody: no opening, no resolved message', async () => {
    start(onlyTg());
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(20 * S);
    emit('alert.resolved', alert({ state: 'resolved', resolvedAt: Date.now() }));
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(tg.sent).toEqual([]);
    // The opening and the (critical alert's) escalation were both cancelled.
    expect((await notifier.list({ limit: 10 })).items.map((d) => [d.event, d.state, d.lastError])).toEqual([
      ['escalated', 'cancelled', 'alert resolved'],
      ['opened', 'cancelled', 'alert resolved'],
    ]);
  });

  it('a resolved message follows only a sent opening', async () => {
    start(onlyTg());
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(2 * MIN);
    emit('alert.resolved', alert({ state: 'resolved', resolvedAt: Date.now() }));
    await vi.advanceTimersByTimeAsync(1 * S);
    expect(sentEvents()).toEqual(['opened@60s', 'resolved@120s']);
  });

  it('suppression set after opening (e.g. the area outage was found) cancels the opening', async () => {
    start(onlyTg());
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(30 * S);
    emit('alert.updated', alert({ suppressedBy: { reason: 'area_outage', ref: '1' } } as never));
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(tg.sent).toEqual([]);
  });

  it('an open, unacknowledged alert is re-sent every repeatIntervalS until acknowledged', async () => {
    start(onlyTg());
    emit('alert.opened', alert({ severity: 'major' }));
    await vi.advanceTimersByTimeAsync(8 * H + 2 * MIN);
    expect(sentEvents()).toEqual(['opened@60s', `repeat@${60 + 4 * 3600}s`, `repeat@${60 + 8 * 3600}s`]);
    emit(
      'alert.acknowledged',
      alert({ severity: 'major', state: 'acknowledged', acknowledgedAt: Date.now() }),
    );
    await vi.advanceTimersByTimeAsync(12 * H);
    expect(tg.sent).toHaveLength(3);
  });

  it('a critical alert unacknowledged for escalateAfterS goes to the ward escalation list, once', async () => {
    start(onlyTg({ wards: { 'binh-ngoc': { escalation: [{ channel: 'tg', recipients: ['999'] }] } } }));
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(29 * MIN);
    expect(tg.sent.map((s) => s.recipient)).toEqual(['100']);
    await vi.advanceTimersByTimeAsync(2 * MIN);
    expect(tg.sent.map((s) => `${s.recipient}:${s.message.event}`)).toEqual(['100:opened', '999:escalated']);
    await vi.advanceTimersByTimeAsync(3 * H);
    expect(tg.sent.filter((s) => s.message.event === 'escalated')).toHaveLength(1);
  });

  it('no escalation when acknowledged in time', async () => {
    start(onlyTg({ wards: { 'binh-ngoc': { escalation: [{ channel: 'tg', recipients: ['999'] }] } } }));
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(10 * MIN);
    emit('alert.acknowledged', alert({ state: 'acknowledged', acknowledgedAt: Date.now() }));
    await vi.advanceTimersByTimeAsync(H);
    expect(tg.sent.map((s) => s.recipient)).toEqual(['100']);
  });

  it('retries with exponential backoff and delivers once', async () => {
    start(onlyTg({ delivery: { pollIntervalMs: 60_000, backoffInitialS: 10 } }));
    tg.failures.push(new DeliveryError('boom'), new DeliveryError('boom'));
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(60 * S); // attempt 1 fails
    await vi.advanceTimersByTimeAsync(10 * S); // attempt 2 (after 10 s) fails
    expect(tg.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(19 * S);
    expect(tg.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1 * S); // attempt 3, 20 s later
    expect(sentEvents()).toEqual(['opened@90s']);
    const [row] = (await notifier.list({ limit: 10, state: 'sent' })).items;
    expect(row).toMatchObject({ attempts: 3, lastError: null });
  });

  it('a permanent error fails at once and is listed as failed', async () => {
    start(onlyTg());
    tg.failures.push(new DeliveryError('telegram answered 400: chat not found', { permanent: true }));
    emit('alert.opened', alert());
    await vi.advanceTimersByTimeAsync(2 * MIN);
    const failed = (await notifier.list({ limit: 10, state: 'failed' })).items;
    expect(failed).toMatchObject([{ attempts: 1, lastError: 'telegram answered 400: chat not found' }]);
  });

  it('an incident is notified once, whatever the number of member alerts', async () => {
    start(onlyTg());
    for (let i = 1; i <= 8; i++) {
      emit('alert.opened', alert({ id: i, deviceId: `bn-cam-00${i}` }));
    }
    await vi.advanceTimersByTimeAsync(10 * S);
    const incident: Incident = {
      id: 1,
      type: 'area_outage',
      ward: 'binh-ngoc',
      powerZone: 'tba-3',
      deviceIds: [...alerts.values()].map((a) => a.deviceId),
      state: 'open',
      openedAt: Date.now(),
      resolvedAt: null,
      message: '8 devices offline in power zone tba-3',
      alertIds: [...alerts.keys()],
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedBy: null,
      assignee: null,
      parentId: null,
    };
    for (const a of [...alerts.values()]) {
      emit('alert.updated', {
        ...a,
        suppressedBy: { reason: 'area_outage', ref: '1' },
        incidentId: 1,
      } as Alert);
    }
    bus.emit('incident.opened', incident);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(tg.sent.map((s) => `${s.message.subjectType}:${s.message.event}`)).toEqual(['incident:opened']);
    bus.emit('incident.resolved', { ...incident, state: 'resolved', resolvedAt: Date.now() });
    for (const a of [...alerts.values()])
      emit('alert.resolved', { ...a, state: 'resolved', resolvedAt: Date.now() });
    await vi.advanceTimersByTimeAsync(MIN);
    expect(tg.sent.map((s) => `${s.message.subjectType}:${s.message.event}`)).toEqual([
      'incident:opened',
      'incident:resolved',
    ]);
  });

  it('issue #12: the assignee of an incident is notified once, at once; a dead parent opening is not notified', async () => {
    start(onlyTg());
    const incident: Incident = {
      id: 5,
      type: 'area_outage',
      ward: 'binh-ngoc',
      powerZone: 'tba-3',
      parentId: null,
      deviceIds: ['bn-cam-001'],
      alertIds: [1],
      state: 'open',
      openedAt: Date.now(),
      resolvedAt: null,
      message: 'outage',
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedBy: null,
      assignee: null,
    };
    bus.emit('incident.opened', incident);
    await vi.advanceTimersByTimeAsync(S);
    bus.emit('incident.updated', { ...incident, assignee: 'tech.an' });
    bus.emit('incident.updated', { ...incident, assignee: 'tech.an', acknowledgedBy: 'tech.an' });
    await vi.advanceTimersByTimeAsync(S);
    expect(tg.sent.map((s) => `${s.message.subjectType}:${s.message.event}:${s.recipient}`)).toEqual([
      'incident:opened:100',
      'incident:opened:222',
    ]);
    bus.emit('incident.opened', { ...incident, id: 6, type: 'dead_parent', parentId: 'gw-1' });
    await vi.advanceTimersByTimeAsync(MIN);
    expect(tg.sent).toHaveLength(2);
  });

  it('listeners only queue: the bus returns before any send happens', async () => {
    start(onlyTg({ notifyDelayS: 0 }));
    emit('alert.opened', alert());
    expect(tg.sent).toEqual([]);
    // Issue #14: the SQLite outbox reads at call time, so this also proves the rows were written
    // before the listener returned (inside the caller's transaction: one commit per tick).
    expect((await notifier.list({ limit: 10, state: 'pending' })).items.map((d) => d.event)).toEqual([
      'escalated',
      'opened',
    ]);
  });
});
