import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from './api.ts';
import { h, select } from './dom.ts';
import { fieldLabel, formatDuration, formatNumber, formatPct, formatTime, label, t } from './i18n.ts';
import { axisWidthPx, chartFields, vnAxisTicks } from './logic.ts';
import { store } from './store.ts';
import type { Alert, Device, Report } from './types.ts';

/** Chart ranges: id, length, InfluxDB bucket, and how many hours or days (for the label). */
const RANGES: Array<[string, number, string, () => string]> = [
  ['6h', 6 * 3600_000, '5m', () => `6 ${t('hours')}`],
  ['24h', 24 * 3600_000, '15m', () => t('last24h')],
  ['7d', 7 * 86400_000, '1h', () => t('last7d')],
];

const plots: uPlot[] = [];

/** A link that opens another device's panel in place (a camera's gateway or NVR, a gateway's cameras). */
function deviceLink(panel: HTMLElement, id: string, testId: string): HTMLElement {
  const other = store.devices.get(id);
  return h(
    'a',
    {
      href: `#/map/${encodeURIComponent(id)}`,
      'data-testid': testId,
      'data-device-link': id,
      onclick: (e: Event) => {
        e.preventDefault();
        openDevicePanel(panel, id);
      },
    },
    other ? `${other.name} (${id})` : id,
  );
}

/** Identity and live status of a device; replaced in place when its state or alerts change. */
function statusList(panel: HTMLElement, d: Device): HTMLElement {
  const state = store.stateOf(d);
  const open = store.alertsOf(d.id);
  const children = [...store.devices.values()].filter((c) => c.parentId === d.id);
  const stock = d.protocol !== undefined && d.protocol !== 'wardwatch';
  return h(
    'dl',
    { class: 'ww-kv', 'data-status-of': d.id },
    h('dt', {}, 'ID'),
    h('dd', {}, d.id),
    h('dt', {}, t('address')),
    h('dd', {}, d.address ?? '–'),
    h('dt', {}, t('ward')),
    h('dd', {}, store.wardName(d.ward)),
    h('dt', {}, t('kind')),
    h('dd', {}, t(d.kind)),
    d.parentId ? h('dt', {}, t('parent')) : null,
    d.parentId ? h('dd', {}, deviceLink(panel, d.parentId, 'panel-parent')) : null,
    children.length > 0 ? h('dt', {}, t('connectedDevices')) : null,
    children.length > 0
      ? h(
          'dd',
          { 'data-testid': 'panel-children' },
          children.flatMap((c, i) => [i > 0 ? ', ' : null, deviceLink(panel, c.id, 'panel-child')]),
        )
      : null,
    stock ? h('dt', {}, t('protocol')) : null,
    stock
      ? h('dd', { 'data-testid': 'panel-protocol' }, `${label(d.protocol ?? '')} · ${d.topic ?? '–'}`)
      : null,
    d.powerZone ? h('dt', {}, t('powerZone')) : null,
    d.powerZone ? h('dd', {}, d.powerZone) : null,
    h('dt', {}, t('state')),
    h(
      'dd',
      {},
      h('span', { class: `ww-badge ww-state-${state}`, 'data-testid': 'panel-state' }, label(state)),
      ` ${t('since')} ${formatTime(d.status.stateSince)}`,
    ),
    h('dt', {}, t('lastSeen')),
    h('dd', {}, formatTime(d.status.lastSeenAt)),
    h('dt', {}, t('openAlerts')),
    h(
      'dd',
      {},
      open.length === 0 ? t('none') : open.map((a) => `${label(a.type)} (${label(a.severity)})`).join(', '),
    ),
  );
}

/** Keeps an open panel current when its device's state or alerts change (live, no reload). */
export function refreshDevicePanel(panel: HTMLElement, deviceId: string): void {
  const current = panel.querySelector(`[data-status-of="${CSS.escape(deviceId)}"]`);
  const d = store.devices.get(deviceId);
  if (panel.hidden || !current || !d) return;
  current.replaceWith(statusList(panel, d));
}

/** The device panel (opened from a marker or a row): identity, state, availability, charts, alert history. */
export function openDevicePanel(panel: HTMLElement, deviceId: string): void {
  const d = store.devices.get(deviceId);
  if (!d) return;
  for (const p of plots.splice(0)) p.destroy();
  panel.hidden = false;
  const avail = h('dl', { class: 'ww-kv' });
  const chartBox = h('div', { class: 'ww-chart', 'data-testid': 'chart' });
  const heartbeatBox = h('div', { class: 'ww-chart', 'data-testid': 'heartbeat-chart' });
  const history = h('ul', { class: 'ww-history' });
  const parent = d.parentId ? store.devices.get(d.parentId) : undefined;
  const fields = chartFields(d.kind, parent);
  const fieldSel = select(
    { 'aria-label': t('telemetry'), 'data-testid': 'telemetry-field' },
    fields.map((f): [string, string] => [f, fieldLabel(f)]),
    fields[0] ?? '',
  );
  const rangeSel = select(
    { 'aria-label': t('range') },
    RANGES.map(([k, , , text]): [string, string] => [k, text()]),
    '24h',
  );
  panel.replaceChildren(
    h(
      'button',
      {
        class: 'ww-close',
        'aria-label': t('close'),
        onclick: () => {
          panel.hidden = true;
          for (const p of plots.splice(0)) p.destroy();
        },
      },
      '×',
    ),
    h('h2', {}, d.name),
    statusList(panel, d),
    h('h3', {}, t('availability')),
    avail,
    h('h3', {}, t('telemetry')),
    h('div', { class: 'ww-row' }, fieldSel, rangeSel),
    chartBox,
    h('h3', {}, t('heartbeats')),
    heartbeatBox,
    h('h3', {}, t('alertHistory')),
    history,
  );

  const now = Date.now();
  Promise.all(
    [
      ['last24h', 86400_000],
      ['last7d', 7 * 86400_000],
    ].map(async ([key, ms]) => {
      const r = await api<Report>(
        'GET',
        `/api/v1/reports/availability?deviceId=${encodeURIComponent(d.id)}&from=${new Date(now - (ms as number)).toISOString()}&to=${new Date(now).toISOString()}`,
      );
      const row = r.devices[0];
      return [key as 'last24h' | 'last7d', row] as const;
    }),
  )
    .then((rows) => {
      avail.replaceChildren(
        ...rows.flatMap(([key, row]) => [
          h('dt', {}, t(key)),
          h(
            'dd',
            {},
            row ? `${formatPct(row.availability)} · ${t('downtime')} ${formatDuration(row.offlineMs)}` : '–',
          ),
        ]),
      );
    })
    .catch(() => avail.replaceChildren(h('dd', {}, t('noData'))));

  /** One uPlot line chart over the chosen range (not the data's: one point must not stretch the axis over years). */
  const chart = (
    box: HTMLElement,
    fromMs: number,
    toMs: number,
    xs: number[],
    ys: Array<number | null>,
    name: string,
    colour: string,
  ) => {
    if (xs.length === 0) {
      box.replaceChildren(h('p', { class: 'ww-muted' }, t('noData')));
      return;
    }
    const p = new uPlot(
      {
        width: Math.max(240, box.clientWidth || 320),
        height: 150,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Ho_Chi_Minh'),
        scales: { x: { time: true, range: [fromMs / 1000, toMs / 1000] } },
        series: [
          {},
          { label: name, stroke: colour, width: 1.5, spanGaps: false, points: { show: xs.length < 60 } },
        ],
        // Issue #12: day/month and 24-hour times in Vietnam, numbers as the language writes them,
        // and a y axis as wide as its longest label (a fixed 50 px clipped "93,155" to "3,155").
        axes: [
          { values: (_u, splits) => vnAxisTicks(splits), size: 48 },
          {
            values: (_u, splits) => splits.map((v) => formatNumber(v)),
            size: (_u, values) => axisWidthPx(values ?? []),
          },
        ],
        legend: { show: false },
      },
      [xs, ys],
      box,
    );
    plots.push(p);
  };

  const drawChart = async () => {
    const field = fieldSel.value;
    const range = RANGES.find(([k]) => k === rangeSel.value) ?? RANGES[1]!;
    const to = Date.now();
    const from = to - range[1];
    const span = `from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&every=${range[2]}`;
    chartBox.replaceChildren();
    heartbeatBox.replaceChildren();
    for (const p of plots.splice(0)) p.destroy();
    const id = encodeURIComponent(d.id);
    await Promise.all([
      api<{ points: Array<{ ts: string; value: number | boolean | null }> }>(
        'GET',
        `/api/v1/devices/${id}/telemetry?field=${field}&${span}`,
      ).then(
        (r) =>
          chart(
            chartBox,
            from,
            to,
            r.points.map((p) => Date.parse(p.ts) / 1000),
            r.points.map((p) => (p.value === null ? null : Number(p.value))),
            fieldLabel(field),
            '#1565c0',
          ),
        () => chartBox.replaceChildren(h('p', { class: 'ww-muted' }, t('noData'))),
      ),
      api<{ points: Array<{ ts: string; count: number }> }>(
        'GET',
        `/api/v1/devices/${id}/heartbeats?${span}`,
      ).then(
        (r) =>
          chart(
            heartbeatBox,
            from,
            to,
            r.points.map((p) => Date.parse(p.ts) / 1000),
            r.points.map((p) => p.count),
            t('heartbeats'),
            '#2e7d32',
          ),
        () => heartbeatBox.replaceChildren(h('p', { class: 'ww-muted' }, t('noData'))),
      ),
    ]);
  };
  fieldSel.addEventListener('change', () => void drawChart());
  rangeSel.addEventListener('change', () => void drawChart());
  void drawChart();

  api<{ items: Alert[] }>('GET', `/api/v1/alerts?deviceId=${encodeURIComponent(d.id)}&limit=20`)
    .then(({ items: alerts }) => {
      history.replaceChildren(
        ...(alerts.length === 0
          ? [h('li', { class: 'ww-muted' }, t('none'))]
          : alerts
              .slice(0, 20)
              .map((a) =>
                h(
                  'li',
                  {},
                  h('span', { class: `ww-sev ww-sev-${a.severity}` }, label(a.severity)),
                  ` ${label(a.type)} · ${label(a.state)} · ${formatTime(a.openedAt)}${a.resolvedAt ? ` → ${formatTime(a.resolvedAt)}` : ''}`,
                  a.note ? h('span', { class: 'ww-muted' }, ` · ${a.note}`) : null,
                ),
              )),
      );
    })
    .catch(() => {});
}
