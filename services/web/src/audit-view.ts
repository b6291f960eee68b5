import { field } from './admin-common.ts';
import { api } from './api.ts';
import { h, select, showError } from './dom.ts';
import { formatTime, type MessageKey, t } from './i18n.ts';
import { nextDay, vnDayStart } from './logic.ts';
import * as adminMessages from './messages/admin.ts';
import { store } from './store.ts';
import type { AuditEntry } from './types.ts';

/** Every audited action with a label (messages/admin.ts `act.<action>`). */
const ACTIONS = Object.keys(adminMessages.vi)
  .filter((k) => k.startsWith('act.'))
  .map((k) => k.slice(4));

/** An action's label; an action added since (another feature's) shows as recorded. */
export const actionLabel = (action: string): string =>
  ACTIONS.includes(action) ? t(`act.${action}` as MessageKey) : action;

/**
 * The audit log (admin, issue #12): who did what, to what, in which wards, with which outcome;
 * newest first, filtered by person, action, ward, target and days (Vietnam time), paged.
 */
export function renderAudit(root: HTMLElement): () => void {
  const actor = h('input', { name: 'actor', list: 'ww-audit-users', autocomplete: 'off' });
  const users = h('datalist', { id: 'ww-audit-users' });
  const action = select(
    { name: 'action' },
    [
      ['', t('admAllActions')],
      ...ACTIONS.map((a): [string, string] => [a, actionLabel(a)]).sort((a, b) =>
        a[1].localeCompare(b[1], 'vi'),
      ),
    ],
    '',
  );
  const ward = select({ name: 'ward' }, [['', t('allWards')]], '');
  const target = h('input', { name: 'target', autocomplete: 'off' });
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const body = h('tbody');
  const more = h('button', { class: 'ww-btn', type: 'button' }, t('admMore'));
  const status = h('p', { class: 'ww-muted', role: 'status', 'data-testid': 'audit-status' });
  let cursor: string | null = null;
  let closed = false;

  const query = () => {
    const p = new URLSearchParams({ limit: '50' });
    if (actor.value.trim()) p.set('actor', actor.value.trim());
    if (action.value) p.set('action', action.value);
    if (ward.value) p.set('ward', ward.value);
    if (target.value.trim()) p.set('target', target.value.trim());
    if (from.value) p.set('from', vnDayStart(from.value));
    if (to.value) p.set('to', vnDayStart(nextDay(to.value)));
    if (cursor) p.set('cursor', cursor);
    return `/api/v1/audit?${p}`;
  };

  const row = (e: AuditEntry) => {
    const ok = e.statusCode < 400;
    // A ward's own entries name it by its name, like every other screen.
    const what = e.target === null ? '–' : e.action.startsWith('ward.') ? store.wardName(e.target) : e.target;
    return h(
      'tr',
      { 'data-audit-id': e.id, 'data-action': e.action },
      h('td', {}, formatTime(e.at)),
      h('td', {}, e.actor ?? t('admNobody')),
      h('td', {}, actionLabel(e.action)),
      h('td', {}, what),
      h('td', { class: 'ww-wrap' }, e.wards.map((w) => store.wardName(w)).join(', ') || '–'),
      h(
        'td',
        {},
        h(
          'span',
          { class: `ww-badge ${ok ? 'ww-state-online' : 'ww-state-offline'}` },
          ok ? t('admOk') : `${t('admRefused')} (${e.statusCode})`,
        ),
      ),
      h('td', {}, e.ip),
    );
  };

  const load = async (append: boolean) => {
    if (!append) cursor = null;
    const page = await api<{ items: AuditEntry[]; nextCursor: string | null }>('GET', query());
    if (closed) return;
    if (append) body.append(...page.items.map(row));
    else body.replaceChildren(...page.items.map(row));
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    status.textContent = body.children.length === 0 ? t('admNoEntries') : '';
  };
  const show = (append: boolean) =>
    load(append).catch((err: Error) => {
      showError(status, err);
    });
  more.addEventListener('click', () => void show(true));

  const filters = h(
    'form',
    { class: 'ww-filters ww-audit-filters', 'data-testid': 'audit-filters' },
    field(t('admActor'), actor),
    users,
    field(t('admAction'), action),
    field(t('ward'), ward),
    field(t('admTarget'), target),
    field(t('from'), from),
    field(t('to'), to),
    h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, t('admFilter')),
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    void show(false);
  });

  root.append(
    h(
      'section',
      { class: 'ww-page ww-admin' },
      h('h1', {}, t('admAudit')),
      filters,
      status,
      h(
        'div',
        { class: 'ww-table-wrap' },
        h(
          'table',
          { class: 'ww-table', 'data-testid': 'audit' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              [
                t('admTime'),
                t('admActor'),
                t('admAction'),
                t('admTarget'),
                t('ward'),
                t('admOutcome'),
                t('admIp'),
              ].map((c) => h('th', {}, c)),
            ),
          ),
          body,
        ),
      ),
      more,
    ),
  );

  const init = async () => {
    await store.reloadWards();
    ward.replaceChildren(
      h('option', { value: '' }, t('allWards')),
      ...store.wardOptions(store.wards.keys()).map(([id, name]) => h('option', { value: id }, name)),
    );
    api<{ items: Array<{ username: string }> }>('GET', '/api/v1/users')
      .then((r) => users.replaceChildren(...r.items.map((u) => h('option', { value: u.username }))))
      .catch(() => {});
    await load(false);
  };
  init().catch((err: Error) => {
    showError(status, err);
  });
  return () => {
    closed = true;
  };
}
