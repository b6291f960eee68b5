import { api, apiRaw } from './api.ts';
import { h, select } from './dom.ts';
import { errorText, formatDuration, formatPct, label, t } from './i18n.ts';
import { csvFileName, nextDay, vnDayStart, vnToday } from './logic.ts';
import { store } from './store.ts';
import type { Group, Report } from './types.ts';

/** Availability per ward, kind and device over a date range (days in Asia/Ho_Chi_Minh), and its CSV. */
export function renderReports(root: HTMLElement): () => void {
  const today = vnToday(Date.now());
  const weekAgo = new Date(Date.parse(`${today}T00:00:00Z`) - 6 * 86400_000).toISOString().slice(0, 10);
  const from = h('input', { type: 'date', value: weekAgo, 'aria-label': t('from') });
  const to = h('input', { type: 'date', value: today, 'aria-label': t('to') });
  const ward = select({ 'aria-label': t('ward') }, [['', t('allWards')]], '');
  // The wards come with the store's first load, which may finish after this page opens (straight
  // after login, or on a reload of #/reports): fill the list now and again on each reload.
  const fillWards = () => {
    const current = ward.value;
    const ids = [...store.wards.keys(), ...[...store.devices.values()].map((d) => d.ward)];
    ward.replaceChildren(
      ...[['', t('allWards')], ...store.wardOptions(ids)].map(([id, name]) =>
        h('option', { value: id, selected: id === current }, name),
      ),
    );
  };
  fillWards();
  const unsubscribe = store.subscribe((c) => {
    if (c.kind === 'reset') fillWards();
  });
  const out = h('div', { 'data-testid': 'report' });
  const query = (format: 'json' | 'csv') => {
    const p = new URLSearchParams({
      from: vnDayStart(from.value),
      to: vnDayStart(nextDay(to.value)),
      format,
    });
    if (ward.value) p.set('ward', ward.value);
    return `/api/v1/reports/availability?${p}`;
  };
  const show = async () => {
    out.replaceChildren(h('p', { class: 'ww-muted' }, '…'));
    try {
      const r = await api<Report>('GET', query('json'));
      out.replaceChildren(
        h('h2', {}, t('total')),
        table(['', t('devices')], [[t('total'), r.total]]),
        h('h2', {}, t('perWard')),
        table(
          [t('ward')],
          r.byWard.map((g) => [g.wardName ?? store.wardName(g.ward), g]),
        ),
        h('h2', {}, t('perKind')),
        table(
          [t('kind')],
          r.byKind.map((g) => [label(g.kind), g]),
        ),
        h('h2', {}, t('perDevice')),
        table(
          [t('name')],
          r.devices.map((g) => [`${g.name} (${g.id})`, { ...g, devices: 1 }]),
        ),
      );
    } catch (err) {
      out.replaceChildren(h('p', { class: 'ww-error', title: (err as Error).message }, errorText(err)));
    }
  };
  const download = async () => {
    // The API needs the bearer header, so the CSV is fetched and handed to the browser as a file.
    const res = await apiRaw('GET', query('csv'));
    // Named after the days the user chose (Vietnam dates, issue #12), whatever the API's instants.
    const name = csvFileName(ward.value ? store.wardName(ward.value) : '', from.value, to.value);
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  root.append(
    h(
      'section',
      { class: 'ww-page' },
      h('h1', {}, t('reports')),
      h(
        'div',
        { class: 'ww-filters' },
        h('label', {}, `${t('from')} `, from),
        h('label', {}, `${t('to')} `, to),
        ward,
        h('button', { class: 'ww-btn ww-btn-primary', onclick: () => void show() }, t('show')),
        h(
          'button',
          { class: 'ww-btn', 'data-testid': 'csv', onclick: () => void download() },
          t('downloadCsv'),
        ),
      ),
      out,
    ),
  );
  void show();
  return unsubscribe;
}

function table(head: string[], rows: Array<[string, Group]>): HTMLElement {
  const cols = [t('availability'), t('downtime'), t('outages'), t('mttr')];
  return h(
    'div',
    { class: 'ww-table-wrap' },
    h(
      'table',
      { class: 'ww-table' },
      h('thead', {}, h('tr', {}, h('th', {}, head[0] ?? ''), ...cols.map((c) => h('th', {}, c)))),
      h(
        'tbody',
        {},
        rows.map(([name, g]) =>
          h(
            'tr',
            {},
            h('td', {}, name),
            h('td', {}, formatPct(g.availability)),
            h('td', {}, formatDuration(g.offlineMs)),
            h('td', {}, String(g.outages)),
            h('td', {}, formatDuration(g.mttrMs)),
          ),
        ),
      ),
    ),
  );
}
