import { api, session } from './api.ts';
import { h, select } from './dom.ts';
import { formatDuration, formatTime, label, t } from './i18n.ts';
import { sortAlerts } from './logic.ts';
import { store } from './store.ts';
import type { Alert } from './types.ts';

/**
 * The technicians' alert board: unresolved alerts, most severe and longest waiting first,
 * acknowledge / resolve with a note. One column of cards so it fits a 360-px phone.
 */
export function renderAlerts(root: HTMLElement): () => void {
  const f = { ward: '', severity: '', state: '' };
  const list = h('div', { class: 'ww-cards', 'data-testid': 'alert-list' });
  const wardSel = select({ 'aria-label': t('ward') }, [['', t('allWards')]], '');
  wardSel.addEventListener('change', () => {
    f.ward = wardSel.value;
    render();
  });
  const canAct = session.user()?.role !== 'viewer';
  // Notes being typed survive the re-renders that live alerts cause.
  const drafts = new Map<number, string>();
  root.append(
    h(
      'section',
      { class: 'ww-page ww-alerts' },
      h('h1', {}, t('alerts')),
      h(
        'div',
        { class: 'ww-filters' },
        wardSel,
        select(
          {
            'aria-label': t('severity'),
            onchange: (e: Event) => {
              f.severity = (e.target as HTMLSelectElement).value;
              render();
            },
          },
          [
            ['', t('allSeverities')],
            ...['critical', 'major', 'minor', 'warning'].map((s): [string, string] => [s, label(s)]),
          ],
          '',
        ),
        select(
          {
            'aria-label': t('state'),
            onchange: (e: Event) => {
              f.state = (e.target as HTMLSelectElement).value;
              render();
            },
          },
          [
            ['', t('allStates')],
            ['open', t('open')],
            ['acknowledged', t('acknowledged')],
          ],
          '',
        ),
      ),
      list,
    ),
  );

  const act = async (a: Alert, action: 'ack' | 'resolve', note: string, card: HTMLElement) => {
    card.classList.add('ww-busy');
    try {
      const updated = await api<Alert>('POST', `/api/v1/alerts/${a.id}/${action}`, note ? { note } : {});
      store.applyAlert(updated);
    } catch (err) {
      card.classList.remove('ww-busy');
      card.append(h('p', { class: 'ww-error' }, (err as Error).message));
    }
  };

  const card = (a: Alert) => {
    const d = store.devices.get(a.deviceId);
    const note = h('input', {
      type: 'text',
      placeholder: t('note'),
      'aria-label': t('note'),
      value: drafts.get(a.id) ?? a.note ?? '',
      maxlength: 500,
      oninput: (e: Event) => drafts.set(a.id, (e.target as HTMLInputElement).value),
    });
    const el = h(
      'article',
      { class: `ww-card ww-sev-border-${a.severity}`, 'data-alert-id': a.id, 'data-state': a.state },
      h(
        'header',
        {},
        h('span', { class: `ww-sev ww-sev-${a.severity}` }, label(a.severity)),
        h('span', { class: 'ww-badge' }, label(a.state)),
        h('span', { class: 'ww-muted' }, formatDuration(Date.now() - Date.parse(a.openedAt))),
      ),
      h('h3', {}, d?.name ?? a.deviceId),
      h('p', { class: 'ww-muted' }, `${a.deviceId} · ${store.wardName(a.ward)} · ${label(a.type)}`),
      d?.address ? h('p', {}, d.address) : null,
      h('p', { class: 'ww-muted' }, `${t('opened')} ${formatTime(a.openedAt)}`),
      a.acknowledgedBy
        ? h('p', { class: 'ww-muted' }, `${t('acknowledged')} ${t('by')} ${a.acknowledgedBy}`)
        : null,
      canAct
        ? h(
            'div',
            { class: 'ww-actions' },
            note,
            a.state === 'open'
              ? h(
                  'button',
                  {
                    class: 'ww-btn',
                    'data-action': 'ack',
                    onclick: () => void act(a, 'ack', note.value, el),
                  },
                  t('acknowledge'),
                )
              : null,
            h(
              'button',
              {
                class: 'ww-btn ww-btn-primary',
                'data-action': 'resolve',
                onclick: () => void act(a, 'resolve', note.value, el),
              },
              t('resolve'),
            ),
          )
        : null,
    );
    return el;
  };

  const render = () => {
    const all = [...store.openAlerts.values()];
    const wards = store.wardOptions(all.map((a) => a.ward));
    wardSel.replaceChildren(
      h('option', { value: '' }, t('allWards')),
      ...wards.map(([id, name]) => h('option', { value: id, selected: id === f.ward }, name)),
    );
    const shown = sortAlerts(
      all.filter(
        (a) =>
          (f.ward === '' || a.ward === f.ward) &&
          (f.severity === '' || a.severity === f.severity) &&
          (f.state === '' || a.state === f.state),
      ),
    );
    list.replaceChildren(
      ...(shown.length === 0 ? [h('p', { class: 'ww-muted' }, t('noAlerts'))] : shown.map(card)),
    );
  };

  const unsubscribe = store.subscribe((c) => {
    if (c.kind !== 'device') render();
  });
  render();
  return unsubscribe;
}
