import { api, session } from './api.ts';
import { h, select } from './dom.ts';
import { errorText, formatDuration, formatTime, label, t } from './i18n.ts';
import { assignSelect, incidentCard } from './incident-card.ts';
import { assignedMatches, boardItems, incidentState } from './incident-logic.ts';
import { OFFLINE_ALERT, sortAlerts } from './logic.ts';
import { store } from './store.ts';
import type { Alert } from './types.ts';

/** How often the alerts' ages are rewritten (issue #12: ages tick, at most 30 s behind). */
export const AGE_TICK_MS = 10_000;

/** Rewrites every `[data-age-since]` element's age from `nowMs`. */
export function tickAges(root: ParentNode, nowMs: number): void {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>('[data-age-since]'))) {
    el.textContent = formatDuration(nowMs - Date.parse(el.dataset.ageSince ?? ''));
  }
}

/**
 * The technicians' alert board: unresolved alerts, most severe and longest waiting first,
 * acknowledge / resolve with a note. One column of cards so it fits a 360-px phone.
 */
export function renderAlerts(root: HTMLElement): () => void {
  const f = { ward: '', severity: '', state: '', mine: false };
  const me = session.user()?.username ?? null;
  // Issue #12: alerts and incidents counted apart, above the cards.
  const counts = h('p', { class: 'ww-board-counts', 'data-testid': 'board-counts' });
  const incidentDrafts = new Map<string, string>();
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
        h(
          'label',
          { class: 'ww-check' },
          h('input', {
            type: 'checkbox',
            'data-testid': 'only-mine',
            onchange: (e: Event) => {
              f.mine = (e.target as HTMLInputElement).checked;
              render();
            },
          }),
          ` ${t('assignedToMe')}`,
        ),
      ),
      counts,
      list,
    ),
  );

  const act = async (a: Alert, action: 'ack' | 'resolve', note: string, card: HTMLElement) => {
    // Issue #12: closing an offline alert while the device is still offline needs a reason (the
    // API refuses it without one too, and says so in the alert's history).
    if (action === 'resolve' && stillOffline(a) && note.trim() === '') {
      card.querySelector<HTMLElement>('[data-testid=offline-warning]')?.classList.add('ww-error');
      card.querySelector<HTMLInputElement>('input[type=text]')?.focus();
      return;
    }
    card.classList.add('ww-busy');
    try {
      const updated = await api<Alert>('POST', `/api/v1/alerts/${a.id}/${action}`, note ? { note } : {});
      store.applyAlert(updated);
    } catch (err) {
      card.classList.remove('ww-busy');
      card.append(h('p', { class: 'ww-error', title: (err as Error).message }, errorText(err)));
    }
  };

  const stillOffline = (a: Alert) => {
    const d = store.devices.get(a.deviceId);
    return a.type === OFFLINE_ALERT && d !== undefined && d.status.state === 'offline';
  };
  const assign = async (a: Alert, username: string, card: HTMLElement) => {
    card.classList.add('ww-busy');
    try {
      store.applyAlert(await api<Alert>('POST', `/api/v1/alerts/${a.id}/assign`, { username }));
    } catch (err) {
      card.classList.remove('ww-busy');
      card.append(h('p', { class: 'ww-error', title: (err as Error).message }, errorText(err)));
    }
  };

  const card = (a: Alert) => {
    const d = store.devices.get(a.deviceId);
    const isService = a.kind === 'service';
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
        // Issue #12: the device is in a maintenance window (live: the board re-renders on its start/end).
        d?.status.maintenance
          ? h(
              'span',
              { class: 'ww-badge ww-state-maintenance', 'data-maintenance': '' },
              label('maintenance'),
            )
          : null,
        h(
          'span',
          { class: 'ww-muted', 'data-age-since': a.openedAt },
          formatDuration(Date.now() - Date.parse(a.openedAt)),
        ),
      ),
      h('h3', {}, d?.name ?? (isService ? t('service') : a.deviceId)),
      h(
        'p',
        { class: 'ww-muted' },
        isService ? label(a.type) : `${a.deviceId} · ${store.wardName(a.ward)} · ${label(a.type)}`,
      ),
      d?.address ? h('p', {}, d.address) : null,
      h('p', { class: 'ww-muted' }, `${t('opened')} ${formatTime(a.openedAt)}`),
      a.acknowledgedBy
        ? h('p', { class: 'ww-muted' }, `${t('acknowledged')} ${t('by')} ${a.acknowledgedBy}`)
        : null,
      canAct && stillOffline(a)
        ? h('p', { class: 'ww-warning', 'data-testid': 'offline-warning' }, t('resolveOfflineWarning'))
        : null,
      a.assignee ? h('p', { class: 'ww-muted' }, `${t('assignedTo')}: ${a.assignee}`) : null,
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
            me && a.assignee !== me
              ? h(
                  'button',
                  { class: 'ww-btn', 'data-action': 'assign-me', onclick: () => void assign(a, me, el) },
                  t('assignToMe'),
                )
              : null,
            assignSelect(
              a.ward,
              a.assignee,
              (username) => void assign(a, username, el),
              (message) => el.append(h('p', { class: 'ww-error' }, message)),
            ),
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
    // Issue #12: an open incident is one card; its members' alerts are not shown apart.
    const board = boardItems(store.openAlerts.values(), store.openIncidents.values());
    const all = board.alerts;
    const wards = store.wardOptions([...all, ...board.incidents].map((a) => a.ward).filter((w) => w !== ''));
    wardSel.replaceChildren(
      h('option', { value: '' }, t('allWards')),
      ...wards.map(([id, name]) => h('option', { value: id, selected: id === f.ward }, name)),
    );
    const shown = sortAlerts(
      all.filter(
        (a) =>
          (f.ward === '' || a.ward === f.ward) &&
          (f.severity === '' || a.severity === f.severity) &&
          (f.state === '' || a.state === f.state) &&
          assignedMatches(a, me, f.mine),
      ),
    );
    // An outage takes devices off the air: as critical as it gets.
    const incidents = board.incidents.filter(
      (i) =>
        (f.ward === '' || i.ward === f.ward) &&
        (f.severity === '' || f.severity === 'critical') &&
        (f.state === '' || incidentState(i) === f.state) &&
        assignedMatches(i, me, f.mine),
    );
    counts.replaceChildren(
      `${t('alertsCount')}: `,
      h('b', { 'data-testid': 'count-alerts' }, String(board.alerts.length)),
      ` · ${t('incidentsCount')}: `,
      h('b', { 'data-testid': 'count-incidents' }, String(board.incidents.length)),
    );
    list.replaceChildren(
      ...(shown.length + incidents.length === 0
        ? [h('p', { class: 'ww-muted' }, t('noAlerts'))]
        : [...incidents.map((i) => incidentCard(i, incidentDrafts)), ...shown.map(card)]),
    );
  };

  const unsubscribe = store.subscribe((c) => {
    // A device's state matters to its offline alert's card (the note it asks for, issue #12).
    if (c.kind !== 'device' || store.alertsOf(c.id).length > 0) render();
  });
  store.maintenanceListeners.add(render);
  render();
  const ticker = setInterval(() => tickAges(list, Date.now()), AGE_TICK_MS);
  return () => {
    clearInterval(ticker);
    unsubscribe();
    store.maintenanceListeners.delete(render);
  };
}
