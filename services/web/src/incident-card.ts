import { api, session } from './api.ts';
import { h } from './dom.ts';
import { errorText, formatDuration, formatTime, label, t } from './i18n.ts';
import { incidentState, kindCounts } from './incident-logic.ts';
import { KINDS } from './logic.ts';
import { store } from './store.ts';
import type { Incident } from './types.ts';

/** Technicians per ward, asked once per page load (the list changes rarely). */
const technicians = new Map<string, Promise<string[]>>();
function techniciansOf(ward: string): Promise<string[]> {
  let p = technicians.get(ward);
  if (!p) {
    p = api<{ items: Array<{ username: string }> }>(
      'GET',
      `/api/v1/technicians?ward=${encodeURIComponent(ward)}`,
    ).then(
      (r) => r.items.map((u) => u.username),
      (err: unknown) => {
        technicians.delete(ward);
        throw err;
      },
    );
    technicians.set(ward, p);
  }
  return p;
}

/**
 * "Assign to a technician of the ward…" (issue #12), for incident and alert cards. The list is
 * asked for when the select is first opened: a board of many cards asks only for those people use.
 */
export function assignSelect(
  ward: string,
  current: string | null | undefined,
  onPick: (username: string) => void,
  onError: (message: string) => void,
): HTMLSelectElement {
  const sel = h(
    'select',
    {
      'aria-label': t('assignTo'),
      'data-action': 'assign-to',
      onchange: (e: Event) => {
        const username = (e.target as HTMLSelectElement).value;
        if (username) onPick(username);
      },
    },
    h('option', { value: '' }, t('assignTo')),
  );
  const fill = () => {
    if (sel.dataset.filled) return;
    sel.dataset.filled = '1';
    techniciansOf(ward).then(
      (names) =>
        sel.append(
          ...(names.length === 0
            ? [h('option', { value: '', disabled: true }, t('noTechnicians'))]
            : names.map((n) => h('option', { value: n, selected: n === current }, n))),
        ),
      (err: unknown) => {
        delete sel.dataset.filled;
        onError(errorText(err));
      },
    );
  };
  sel.addEventListener('focus', fill);
  sel.addEventListener('pointerdown', fill);
  return sel;
}

/** "10 đèn · 2 camera" */
export function membersText(i: Incident): string {
  return kindCounts(i.members.byKind, KINDS)
    .map(({ kind, n }) => `${n} ${label(kind).toLowerCase()}`)
    .join(' · ');
}

/**
 * One card for a whole incident (issue #12): cause, ward, power zone, members by kind, since
 * when, who has it; the member list folds out; acknowledge, assign and resolve act on the
 * incident and every member alert in one request. `drafts` keeps notes typed across re-renders.
 */
export function incidentCard(i: Incident, drafts: Map<string, string>): HTMLElement {
  const me = session.user();
  const canAct = me !== null && me.role !== 'viewer' && i.state === 'open';
  const state = incidentState(i);
  const key = `incident-${i.id}`;
  const note = h('input', {
    type: 'text',
    placeholder: t('note'),
    'aria-label': t('note'),
    value: drafts.get(key) ?? '',
    maxlength: 500,
    oninput: (e: Event) => drafts.set(key, (e.target as HTMLInputElement).value),
  });
  const error = h('p', { class: 'ww-error', role: 'alert' });
  const post = async (path: string, body: unknown) => {
    el.classList.add('ww-busy');
    error.textContent = '';
    try {
      const updated = await api<Incident>('POST', `/api/v1/incidents/${i.id}/${path}`, body);
      if (path !== 'assign') drafts.delete(key);
      store.applyIncident(updated);
    } catch (err) {
      el.classList.remove('ww-busy');
      error.textContent = errorText(err);
    }
  };
  const withNote = () => (note.value ? { note: note.value } : {});

  const assignSel = assignSelect(
    i.ward,
    i.assignee,
    (username) => void post('assign', { username }),
    (message) => {
      error.textContent = message;
    },
  );

  const members = h(
    'details',
    { class: 'ww-members' },
    h('summary', {}, `${t('memberList')} (${i.members.total})`),
    h(
      'ul',
      {},
      i.deviceIds.map((id) => {
        const d = store.devices.get(id);
        const s = d ? store.stateOf(d) : 'unknown';
        return h(
          'li',
          { 'data-device-id': id },
          h('span', { class: `ww-dot ww-state-${s}` }),
          ` ${d?.name ?? id} `,
          h('span', { class: 'ww-muted' }, label(s)),
        );
      }),
    ),
  );

  const offline = i.members.total - i.members.back;
  const el = h(
    'article',
    {
      class: 'ww-card ww-incident ww-sev-border-critical',
      'data-incident-id': i.id,
      'data-state': state,
    },
    h(
      'header',
      {},
      h('span', { class: 'ww-sev ww-sev-critical' }, t('incident')),
      h('span', { class: 'ww-badge' }, i.state === 'resolved' ? t('incidentResolved') : label(state)),
      h(
        'span',
        { class: 'ww-muted' },
        formatDuration((i.resolvedAt ? Date.parse(i.resolvedAt) : Date.now()) - Date.parse(i.openedAt)),
      ),
    ),
    h('h3', {}, label(i.type)),
    h(
      'p',
      { class: 'ww-muted' },
      store.wardName(i.ward),
      i.powerZone ? ` · ${t('powerZone')}: ${i.powerZone}` : null,
    ),
    // The cause of a dead parent: the gateway or NVR the members reach the service through.
    i.parentId
      ? h(
          'p',
          { 'data-testid': 'incident-parent' },
          `${t('parentDevice')}: `,
          h('b', {}, store.devices.get(i.parentId)?.name ?? i.parentId),
        )
      : null,
    h(
      'p',
      { 'data-testid': 'incident-members' },
      h('b', {}, membersText(i)),
      ` — ${offline} ${t('membersOffline')}`,
      i.members.back > 0 ? `, ${i.members.back} ${t('membersBack')}` : null,
    ),
    h('p', { class: 'ww-muted' }, `${t('opened')} ${formatTime(i.openedAt)}`),
    i.acknowledgedBy
      ? h('p', { class: 'ww-muted' }, `${t('acknowledged')} ${t('by')} ${i.acknowledgedBy}`)
      : null,
    h(
      'p',
      { class: 'ww-muted', 'data-testid': 'incident-assignee' },
      `${t('assignedTo')}: ${i.assignee ?? t('unassigned')}`,
    ),
    i.resolvedAt
      ? h(
          'p',
          { class: 'ww-muted' },
          `${t('resolvedAt')} ${formatTime(i.resolvedAt)} `,
          i.resolvedBy === 'system' ? t('resolvedBySystem') : `${t('by')} ${i.resolvedBy ?? ''}`,
        )
      : null,
    members,
    canAct
      ? h(
          'div',
          { class: 'ww-actions' },
          note,
          state === 'open'
            ? h(
                'button',
                { class: 'ww-btn', 'data-action': 'ack', onclick: () => void post('ack', withNote()) },
                t('acknowledgeAll'),
              )
            : null,
          me && i.assignee !== me.username
            ? h(
                'button',
                {
                  class: 'ww-btn',
                  'data-action': 'assign-me',
                  onclick: () => void post('assign', { username: me.username }),
                },
                t('assignToMe'),
              )
            : null,
          assignSel,
          h(
            'button',
            {
              class: 'ww-btn ww-btn-primary',
              'data-action': 'resolve',
              onclick: () => void post('resolve', withNote()),
            },
            t('resolveAll'),
          ),
        )
      : null,
    error,
  );
  return el;
}
