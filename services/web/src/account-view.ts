import { field, roleLabel, wardsText } from './admin-common.ts';
import { ApiError, api, session } from './api.ts';
import { h } from './dom.ts';
import { errorText, t } from './i18n.ts';
import { store } from './store.ts';
import type { User } from './types.ts';

/**
 * The user's own account (every role, issue #12): who they are, which wards they see, and a
 * password change. The API revokes every other token and returns a new one for this browser.
 */
export function renderAccount(root: HTMLElement): () => void {
  const user = session.user();
  const status = h('p', { class: 'ww-muted', role: 'status', 'data-testid': 'account-status' });
  const error = h('p', { class: 'ww-error', role: 'alert' });
  const pw = (name: string, autocomplete: string) =>
    h('input', {
      name,
      type: 'password',
      required: true,
      autocomplete,
      minlength: name === 'current' ? 1 : 8,
    });
  const current = pw('current', 'current-password');
  const next = pw('next', 'new-password');
  const repeat = pw('repeat', 'new-password');
  const wards = h('dd', {}, user ? wardsText(user.wards) : '');
  const form = h(
    'form',
    { class: 'ww-form', 'data-testid': 'password-form' },
    h('h2', {}, t('admChangePassword')),
    field(t('admCurrentPassword'), current),
    field(t('admNewPassword'), next),
    field(t('admRepeatPassword'), repeat),
    h('small', { class: 'ww-muted' }, t('admPasswordMin')),
    h(
      'div',
      { class: 'ww-actions' },
      h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, t('save')),
    ),
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    status.textContent = '';
    if (next.value !== repeat.value) {
      error.textContent = t('admPasswordsDiffer');
      return;
    }
    const change = api<{ token: string; user: User }>('POST', '/api/v1/auth/password', {
      currentPassword: current.value,
      newPassword: next.value,
    })
      .then((r) => {
        session.set(r.token, r.user);
        // The live stream still holds the revoked token: reopen it with the new one.
        store.connect();
        form.reset();
        status.textContent = t('admPasswordChanged');
      })
      .catch((err: unknown) => {
        error.textContent =
          err instanceof ApiError && /^currentPassword/.test(err.message)
            ? t('admWrongCurrent')
            : errorText(err);
      });
    // Issue #12: the old token's stream ends before the answer; the store waits for the new token.
    store.tokenChange = change;
    void change.finally(() => {
      if (store.tokenChange === change) store.tokenChange = null;
    });
  });
  root.append(
    h(
      'section',
      { class: 'ww-page ww-admin' },
      h('h1', {}, t('admAccount')),
      h(
        'dl',
        { class: 'ww-kv' },
        h('dt', {}, t('username')),
        h('dd', {}, user?.username ?? ''),
        h('dt', {}, t('admRole')),
        h('dd', {}, user ? roleLabel(user.role) : ''),
        h('dt', {}, t('admUserWards')),
        wards,
      ),
      status,
      form,
    ),
  );
  // Names arrive with the ward records.
  store
    .reloadWards()
    .then(() => {
      if (user) wards.textContent = wardsText(user.wards);
    })
    .catch(() => {});
  return () => {};
}
