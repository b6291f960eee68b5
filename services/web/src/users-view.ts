import { checkedWards, field, ROLES, roleLabel, wardCheckboxes, wardsText } from './admin-common.ts';
import { api, session } from './api.ts';
import { formActions, h, select, showError } from './dom.ts';
import { t } from './i18n.ts';
import { store } from './store.ts';
import type { Role, UserRecord } from './types.ts';

/**
 * Users (admin, issue #12): create with role and wards, change role and wards, disable/enable,
 * reset a password. The API refuses what this admin may not grant (wards outside their own).
 */
export function renderUsers(root: HTMLElement): () => void {
  const me = session.user();
  const body = h('tbody');
  const formBox = h('div');
  const status = h('p', { class: 'ww-muted', role: 'status', 'data-testid': 'users-status' });
  let users: UserRecord[] = [];
  let closed = false;

  const load = async () => {
    await store.reloadWards();
    users = (await api<{ items: UserRecord[] }>('GET', '/api/v1/users')).items;
    if (!closed) render();
  };
  const fail = (form: HTMLElement) => (err: Error) => {
    showError(form.querySelector<HTMLElement>('.ww-error')!, err);
  };
  const buttons = (submit: string) => formActions(submit, () => formBox.replaceChildren());
  const roleSelect = (value: Role) =>
    select(
      { name: 'role' },
      ROLES.map((r): [string, string] => [r, roleLabel(r)]),
      value,
    );
  const passwordInput = (name: string) =>
    h('input', { name, type: 'password', minlength: 8, required: true, autocomplete: 'new-password' });

  const openCreate = () => {
    const username = h('input', {
      name: 'username',
      required: true,
      pattern: '[a-z0-9][a-z0-9_.\\-]{1,31}',
      title: t('admUsernameHint'),
      autocomplete: 'off',
    });
    const form = h(
      'form',
      { class: 'ww-form', 'data-testid': 'user-create' },
      h('h2', {}, t('admNewUser')),
      field(t('username'), username),
      field(t('password'), passwordInput('password')),
      field(t('admRole'), roleSelect('viewer')),
      wardCheckboxes([]),
      buttons(t('save')),
      h('p', { class: 'ww-error', role: 'alert' }),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value;
      api('POST', '/api/v1/users', {
        username: v('username').trim(),
        password: v('password'),
        role: v('role'),
        wards: checkedWards(form),
      })
        .then(() => {
          status.textContent = `${t('admCreated')}: ${v('username').trim()}`;
          formBox.replaceChildren();
          return load();
        })
        .catch(fail(form));
    });
    formBox.replaceChildren(form);
    username.focus();
  };

  const openEdit = (u: UserRecord) => {
    const self = u.username === me?.username;
    const disabled = h('input', { type: 'checkbox', name: 'disabled', checked: u.disabled, disabled: self });
    const form = h(
      'form',
      { class: 'ww-form', 'data-testid': 'user-edit' },
      h('h2', {}, u.username),
      field(t('admRole'), roleSelect(u.role)),
      wardCheckboxes(u.wards),
      h('label', { class: 'ww-check' }, disabled, t('admDisable')),
      buttons(t('save')),
      h('p', { class: 'ww-error', role: 'alert' }),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const role = (form.elements.namedItem('role') as HTMLSelectElement).value;
      const change: Record<string, unknown> = { role, wards: checkedWards(form) };
      if (!self) change.disabled = disabled.checked;
      api('PATCH', `/api/v1/users/${encodeURIComponent(u.username)}`, change)
        .then(() => {
          status.textContent = `${t('admSaved')}: ${u.username}`;
          formBox.replaceChildren();
          return load();
        })
        .catch(fail(form));
    });
    const reset = h(
      'form',
      { class: 'ww-form', 'data-testid': 'user-reset' },
      h('h2', {}, `${t('admResetPassword')}: ${u.username}`),
      field(t('admNewPassword'), passwordInput('password')),
      h(
        'div',
        { class: 'ww-actions' },
        h('button', { class: 'ww-btn', type: 'submit' }, t('admResetPassword')),
      ),
      h('p', { class: 'ww-error', role: 'alert' }),
    );
    reset.addEventListener('submit', (e) => {
      e.preventDefault();
      const password = (reset.elements.namedItem('password') as HTMLInputElement).value;
      api('PATCH', `/api/v1/users/${encodeURIComponent(u.username)}`, { password })
        .then(() => {
          status.textContent = `${t('admPasswordReset')} (${u.username})`;
          formBox.replaceChildren();
        })
        .catch(fail(reset));
    });
    formBox.replaceChildren(form, reset);
  };

  const render = () => {
    body.replaceChildren(
      ...users.map((u) =>
        h(
          'tr',
          { 'data-username': u.username },
          h('td', {}, u.username),
          h('td', {}, roleLabel(u.role)),
          h('td', { class: 'ww-wrap' }, wardsText(u.wards)),
          h(
            'td',
            {},
            h(
              'span',
              { class: `ww-badge ${u.disabled ? 'ww-state-offline' : 'ww-state-online'}` },
              u.disabled ? t('admDisabled') : t('admActive'),
            ),
          ),
          h(
            'td',
            {},
            h('button', { class: 'ww-btn', type: 'button', onclick: () => openEdit(u) }, t('edit')),
          ),
        ),
      ),
    );
  };

  root.append(
    h(
      'section',
      { class: 'ww-page ww-admin' },
      h('h1', {}, t('admUsers')),
      h(
        'div',
        { class: 'ww-filters' },
        h('button', { class: 'ww-btn ww-btn-primary', type: 'button', onclick: openCreate }, t('admNewUser')),
      ),
      status,
      formBox,
      h(
        'div',
        { class: 'ww-table-wrap' },
        h(
          'table',
          { class: 'ww-table', 'data-testid': 'users' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              [t('username'), t('admRole'), t('admUserWards'), t('state'), ''].map((c) => h('th', {}, c)),
            ),
          ),
          body,
        ),
      ),
    ),
  );
  load().catch((err: Error) => {
    showError(status, err);
  });
  return () => {
    closed = true;
  };
}
