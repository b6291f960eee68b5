import './style.css';
import { renderAccount } from './account-view.ts';
import { renderAlerts } from './alerts-view.ts';
import { ApiError, login, logout, session, setUnauthorizedHandler } from './api.ts';
import { renderAudit } from './audit-view.ts';
import { renderChannels } from './channels-view.ts';
import { renderDevices } from './devices-view.ts';
import { h } from './dom.ts';
import { errorText, getLang, type MessageKey, setLang, t } from './i18n.ts';
import { renderIncidents } from './incidents-view.ts';
import { renderMaintenance } from './maintenance-view.ts';
import { renderMap } from './map-view.ts';
import { renderReports } from './reports-view.ts';
import { store } from './store.ts';
import { renderUsers } from './users-view.ts';
import { renderWards } from './wards-view.ts';

/** wardwatch web app (issue #4): hash routes #/map, #/alerts, #/reports, #/devices; login when there is no token. */
const app = document.getElementById('app')!;
let teardown: () => void = () => {};

const ROUTES: Array<{
  path: string;
  key: MessageKey;
  render: (root: HTMLElement, param?: string) => () => void;
  admin?: boolean;
}> = [
  { path: 'map', key: 'map', render: renderMap },
  { path: 'alerts', key: 'alerts', render: renderAlerts },
  { path: 'incidents', key: 'incidents', render: renderIncidents },
  { path: 'reports', key: 'reports', render: renderReports },
  { path: 'devices', key: 'devices', render: renderDevices, admin: true },
  { path: 'maintenance', key: 'maintenance', render: renderMaintenance },
  { path: 'users', key: 'admUsers', render: renderUsers, admin: true },
  { path: 'wards', key: 'admWards', render: renderWards, admin: true },
  { path: 'audit', key: 'admAudit', render: renderAudit, admin: true },
  { path: 'account', key: 'admAccount', render: renderAccount },
  { path: 'channels', key: 'chNav', render: renderChannels, admin: true },
];

/** `notice`: why the app signed this person out (issue #12), shown above the form. */
function renderLogin(notice?: string): void {
  teardown();
  teardown = () => {};
  store.disconnect();
  const user = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    'aria-label': t('username'),
  });
  const pass = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-label': t('password'),
  });
  const error = h('p', { class: 'ww-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'ww-login' },
    h('h1', {}, 'wardwatch'),
    notice ? h('p', { class: 'ww-notice', role: 'status', 'data-testid': 'login-notice' }, notice) : null,
    h('label', {}, t('username'), user),
    h('label', {}, t('password'), pass),
    h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, t('login')),
    error,
    langSwitch(),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    login(user.value, pass.value).then(
      () => void start(),
      (err: unknown) => {
        error.textContent = err instanceof ApiError && err.status === 401 ? t('loginFailed') : errorText(err);
      },
    );
  });
  app.replaceChildren(form);
  user.focus();
}

function langSwitch(): HTMLElement {
  const other = getLang() === 'vi' ? 'en' : 'vi';
  return h(
    'button',
    {
      class: 'ww-lang',
      type: 'button',
      onclick: () => {
        setLang(other);
        route();
      },
    },
    other === 'en' ? 'English' : 'Tiếng Việt',
  );
}

function route(): void {
  const user = session.user();
  if (!session.token() || !user) {
    renderLogin();
    return;
  }
  const routes = ROUTES.filter((r) => !r.admin || user.role === 'admin');
  // #/map/<deviceId> opens the map with that device's panel (links from the device table).
  const [path = 'map', param] = (location.hash.replace(/^#\/?/, '') || 'map').split('/');
  const current = routes.find((r) => r.path === path) ?? routes[0]!;
  teardown();
  const main = h('main', { class: `ww-main ww-route-${current.path}` });
  app.replaceChildren(
    h(
      'header',
      { class: 'ww-header' },
      h('span', { class: 'ww-brand' }, 'wardwatch'),
      h(
        'nav',
        {},
        routes.map((r) => h('a', { href: `#/${r.path}`, class: r === current ? 'active' : null }, t(r.key))),
      ),
      h('span', { class: 'ww-user' }, user.username),
      langSwitch(),
      h(
        'button',
        {
          class: 'ww-btn',
          type: 'button',
          onclick: () => {
            // The stream first: its `session.ended` (logout) must not announce a sign-out notice.
            store.disconnect();
            void logout().then(() => {
              location.hash = '';
              renderLogin();
            });
          },
        },
        t('logout'),
      ),
    ),
    main,
  );
  teardown = current.render(main, param ? decodeURIComponent(param) : undefined);
}

async function start(): Promise<void> {
  document.documentElement.lang = getLang();
  store.connect();
  route();
}

// A request answered 401 after the session ended must not wipe the login screen's notice (issue #12).
setUnauthorizedHandler(() => {
  if (!app.querySelector('.ww-login')) renderLogin();
});
// Issue #12: the server ended the session (SSE `session.ended`): sign out and say why, without a
// reload. The hash stays, so logging in again returns to the same screen.
store.onSessionEnded = (reason) => {
  if (reason === 'user_changed') {
    route(); // new role or wards: the menu and the lists follow
    return;
  }
  session.clear();
  renderLogin(t(`session.${reason}`));
};
window.addEventListener('hashchange', route);
if (session.token()) void start();
else renderLogin();
