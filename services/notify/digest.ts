import type { DeviceKind } from '../../devices/protocol/index.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { timeZones } from '../core/time-zone.ts';
import type { AlertService, LivenessView } from '../health/service-types.ts';
import type { Alert } from '../health/types.ts';

type AlertPage = ReturnType<AlertService['list']>;

import type { DeviceRegistry } from '../registry/registry.ts';
import { digestTargets } from './planner.ts';
import { formatTime, type Language, whatIsWrong } from './templates.ts';
import type { NewDelivery, NotifyConfig } from './types.ts';

const DAY_MS = 86_400_000;

/** Wall-clock fields of `ms` in `timeZone` (issue #15: from the system's zone files, not ICU). */
const zoned = (ms: number, timeZone: string) => timeZones.wallClock(ms, timeZone);

/** How far `timeZone` is ahead of UTC at `ms` (Asia/Ho_Chi_Minh: +7 h, no DST). */
const offsetMs = (ms: number, timeZone: string): number => timeZones.offsetMs(ms, timeZone);

/** `YYYY-MM-DD` of `ms` in `timeZone`: the digest's date (and part of its dedupe key). */
export function localDate(ms: number, timeZone: string): string {
  const z = zoned(ms, timeZone);
  return `${z.y}-${String(z.m).padStart(2, '0')}-${String(z.d).padStart(2, '0')}`;
}

/** The first `hour`:00 local time in `timeZone` strictly after `now` (DST-safe: offset taken at the target). */
export function nextDigestAt(now: number, hour: number, timeZone: string): number {
  const z = zoned(now, timeZone);
  for (let add = 0; add <= 2; add++) {
    const wall = Date.UTC(z.y, z.m - 1, z.d + add, hour);
    const at = wall - offsetMs(wall - offsetMs(wall, timeZone), timeZone);
    if (at > now) return at;
  }
  return now + DAY_MS; // unreachable for real zones
}

export interface DigestData {
  ward: string;
  /** The ward's name ("Phường Bình Ngọc", issue #12); absent = "Phường <id>". */
  wardName?: string;
  date: string;
  /**
   * Per kind: devices online now, registered, and not heard from since start-up (`unknown`): right
   * after a restart nobody is assumed online, so the digest says so instead of "0 up".
   */
  devices: Partial<Record<DeviceKind, { up: number; total: number; unknown: number }>>;
  /** Alerts opened in the last 24 h. */
  newFaults: Alert[];
  /** Unresolved alerts opened more than 24 h ago. */
  longOpen: Alert[];
}

const TEXT = {
  vi: {
    title: (ward: string, date: string) => `BÁO CÁO NGÀY ${date} – ${ward}`,
    ward: (id: string) => `Phường ${id}`,
    kind: { camera: 'Camera', light: 'Đèn chiếu sáng', gateway: 'Bộ thu thập (gateway)' },
    up: (u: number, t: number, unknown: number) =>
      `${u}/${t} hoạt động${unknown > 0 ? ` (${unknown} chưa rõ trạng thái)` : ''}`,
    newFaults: (n: number) => `Sự cố mới trong 24 giờ: ${n}`,
    longOpen: (n: number) => `Cảnh báo chưa xử lý quá 24 giờ: ${n}`,
    resolved: 'đã khắc phục',
    since: 'từ',
    none: 'không có',
  },
  en: {
    title: (ward: string, date: string) => `DAILY DIGEST ${date} – ${ward}`,
    ward: (id: string) => `ward ${id}`,
    kind: { camera: 'Cameras', light: 'Street lights', gateway: 'Gateways' },
    up: (u: number, t: number, unknown: number) =>
      `${u}/${t} up${unknown > 0 ? ` (${unknown} not heard from yet)` : ''}`,
    newFaults: (n: number) => `New faults in the last 24 h: ${n}`,
    longOpen: (n: number) => `Alerts open for more than 24 h: ${n}`,
    resolved: 'resolved',
    since: 'since',
    none: 'none',
  },
} as const;

/** The digest text (at most 30 alerts listed per section; counts are complete). */
export function renderDigest(
  data: DigestData,
  o: { language: Language; timeZone: string; publicUrl: string },
  deviceName: (id: string) => string,
): { subject: string; text: string } {
  const t = TEXT[o.language];
  const [y, m, d] = data.date.split('-');
  const title = t.title(data.wardName ?? t.ward(data.ward), `${d}/${m}/${y}`);
  const lines = [title];
  for (const kind of Object.keys(data.devices).sort() as DeviceKind[]) {
    const c = data.devices[kind];
    if (c) lines.push(`${t.kind[kind]}: ${t.up(c.up, c.total, c.unknown)}`);
  }
  const line = (a: Alert, withState: boolean) =>
    `- ${formatTime(a.openedAt, o.timeZone)} ${deviceName(a.deviceId)} (${a.deviceId}): ${whatIsWrong(o.language, a.type, a.message)}` +
    (withState && a.state === 'resolved' ? ` (${t.resolved})` : '');
  lines.push(
    '',
    t.newFaults(data.newFaults.length),
    ...data.newFaults.slice(0, 30).map((a) => line(a, true)),
  );
  lines.push('', t.longOpen(data.longOpen.length), ...data.longOpen.slice(0, 30).map((a) => line(a, false)));
  lines.push('', `${o.publicUrl.replace(/\/$/, '')}/`);
  return { subject: `[wardwatch] ${title}`, text: lines.join('\n') };
}

export interface DigestDeps {
  notify: NotifyConfig;
  log: Logger;
  clock: Clock;
  devices: Pick<DeviceRegistry, 'list' | 'get'>;
  liveness: LivenessView;
  /**
   * Issue #14: in cluster mode every node's alerts, from PostgreSQL (a promise); one process
   * answers at once.
   */
  alerts: {
    list(filter: Parameters<AlertService['list']>[0]): AlertPage | Promise<AlertPage>;
  };
  /** Queues rows in the notification outbox (Notifier.enqueue); resolves to how many were new. */
  enqueue(rows: readonly NewDelivery[]): Promise<number>;
  /** Ward id → its name in the title (issue #12); absent = "Phường <id>". */
  wardName?: (wardId: string) => string;
}

/** All alerts of a ward matching `keep`, newest first, paging until `stop` says the rest is older. */
function collect(
  alerts: DigestDeps['alerts'],
  filter: { ward: string; state?: 'open' },
  keep: (a: Alert) => boolean,
  stop: (a: Alert) => boolean,
): Alert[] | Promise<Alert[]> {
  const out: Alert[] = [];
  // Synchronous while the pages are (one process, as before); a promise once one is (issue #14).
  const take = (page: AlertPage): Alert[] | Promise<Alert[]> => {
    for (const a of page.items) {
      if (stop(a)) return out;
      if (keep(a)) out.push(a);
    }
    return page.nextCursor ? next(page.nextCursor) : out;
  };
  const next = (cursor: string | undefined): Alert[] | Promise<Alert[]> => {
    const page = alerts.list({ ...filter, limit: 500, cursor });
    return page instanceof Promise ? page.then(take) : take(page);
  };
  return next(undefined);
}

/**
 * The daily digest (issue #3): at notify.digest.hour local time, one message per ward that has
 * digest targets. Queued in the outbox under `digest:<ward>:<date>`, so a restart in the digest
 * hour catches up a missed one and never sends a second.
 */
export function createDigest(deps: DigestDeps): {
  start(): void;
  stop(): void;
  runNow(): Promise<number>;
} {
  const { notify: cfg, log, clock, devices, liveness, alerts } = deps;
  let timer: TimerHandle | null = null;
  let running = false;

  function gather(ward: string, now: number): DigestData | Promise<DigestData> {
    const counts: DigestData['devices'] = {};
    for (const d of devices.list({ ward })) {
      const c = counts[d.kind] ?? { up: 0, total: 0, unknown: 0 };
      counts[d.kind] = c;
      c.total++;
      const state = liveness.stateOf(d.id);
      if (state === 'online') c.up++;
      else if (state === 'unknown') c.unknown++;
    }
    const since = now - DAY_MS;
    // Newest first: everything after the first alert older than 24 h is older too.
    const newFaults = collect(
      alerts,
      { ward },
      () => true,
      (a) => a.openedAt < since,
    );
    const longOpen = collect(
      alerts,
      { ward, state: 'open' },
      (a) => a.openedAt < since,
      () => false,
    );
    const wardName = deps.wardName?.(ward);
    const data = (n: Alert[], l: Alert[]): DigestData => ({
      ward,
      ...(wardName !== undefined && wardName !== ward && { wardName }),
      date: localDate(now, cfg.timeZone),
      devices: counts,
      newFaults: n,
      longOpen: l,
    });
    if (newFaults instanceof Promise || longOpen instanceof Promise)
      return Promise.all([newFaults, longOpen]).then(([n, l]) => data(n, l));
    return data(newFaults, longOpen);
  }

  /** Queues today's digest for every ward with targets; returns the rows newly queued. */
  async function runNow(): Promise<number> {
    const now = clock.now();
    let added = 0;
    for (const ward of Object.keys(cfg.wards).sort()) {
      const targets = digestTargets(cfg, ward);
      if (targets.length === 0) continue;
      const gathered = gather(ward, now);
      const data = gathered instanceof Promise ? await gathered : gathered;
      const msg = renderDigest(data, cfg, (id) => devices.get(id)?.name ?? id);
      const payload = JSON.stringify({
        ...msg,
        data: {
          ward,
          date: data.date,
          devices: data.devices,
          newFaults: data.newFaults.map((a) => a.id),
          longOpen: data.longOpen.map((a) => a.id),
        },
      });
      added += await deps.enqueue(
        targets.map((t) => ({
          subjectType: 'digest' as const,
          subjectId: `${ward}:${data.date}`,
          event: 'digest' as const,
          seq: 0,
          ward,
          channel: t.channel,
          recipient: t.recipient,
          payload,
          dueAt: now,
        })),
      );
      log.info({ ward, date: data.date, targets: targets.length }, 'daily digest queued');
    }
    return added;
  }

  function arm(): void {
    if (!running) return;
    const now = clock.now();
    const at = nextDigestAt(now, cfg.digest.hour, cfg.timeZone);
    timer = clock.setTimeout(() => {
      runNow().catch((err: unknown) => log.error({ err }, 'daily digest failed'));
      arm();
    }, at - now);
  }

  return {
    start() {
      if (!cfg.enabled || !cfg.digest.enabled) return;
      running = true;
      // Started during the digest hour (a restart at 07:05): catch up; the dedupe key stops a repeat.
      if (zoned(clock.now(), cfg.timeZone).h === cfg.digest.hour) {
        runNow().catch((err: unknown) => log.error({ err }, 'daily digest catch-up failed'));
      }
      arm();
    },
    stop() {
      running = false;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
    },
    runNow,
  };
}
