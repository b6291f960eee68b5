import { api } from './api.ts';
import { deliveryLog } from './channels-log.ts';
import { formActions, h, select, showError } from './dom.ts';
import { errorText, label, type MessageKey, t } from './i18n.ts';
import { KINDS } from './logic.ts';
import { store } from './store.ts';
import type { Channel, Route } from './types.ts';

const TYPE_KEY: Record<Channel['type'], MessageKey> = {
  webhook: 'chWebhook',
  telegram: 'chTelegram',
  email: 'chEmail',
};
const SEVERITIES = ['critical', 'major', 'minor', 'warning'];
/** Each type's fields: [field, label, input type]; the secret field is write-only (never filled in). */
const FIELDS: Record<Channel['type'], Array<[string, MessageKey, string]>> = {
  webhook: [
    ['url', 'chUrl', 'url'],
    ['secret', 'chWebhookSecret', 'password'],
  ],
  telegram: [
    ['botToken', 'chBotToken', 'password'],
    ['baseUrl', 'chBaseUrl', 'url'],
  ],
  email: [
    ['host', 'chHost', 'text'],
    ['port', 'chPort', 'number'],
    ['secure', 'chSecure', 'checkbox'],
    ['username', 'chUsername', 'text'],
    ['password', 'chSmtpPassword', 'password'],
    ['from', 'chFrom', 'text'],
  ],
};
const SECRET = new Set(['secret', 'botToken', 'password']);
const csv = (s: string): string[] | null => {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return items.length ? items : null;
};

/**
 * Notification channels, routes and the delivery log (issue #12, admin). Channels of the config
 * file are shown read-only; secrets are write-only: the form never shows them, an empty secret
 * field on an edit keeps the stored one.
 */
export function renderChannels(root: HTMLElement, param?: string): () => void {
  let channels: Channel[] = [];
  let routes: Route[] = [];
  const channelBody = h('tbody', { 'data-testid': 'channel-rows' });
  const routeBody = h('tbody', { 'data-testid': 'route-rows' });
  const formBox = h('div');
  const routeFormBox = h('div');
  const message = h('p', { class: 'ww-ch-message', role: 'status', 'data-testid': 'channel-message' });
  const log = deliveryLog(() => channels.map((c) => c.name), param);
  const say = (text: string, error = false) => {
    message.textContent = text;
    message.classList.toggle('ww-error', error);
  };

  async function load(): Promise<void> {
    try {
      [channels, routes] = await Promise.all([
        api<{ items: Channel[] }>('GET', '/api/v1/notification-channels').then((r) => r.items),
        api<{ items: Route[] }>('GET', '/api/v1/notification-routes').then((r) => r.items),
      ]);
    } catch (err) {
      say(errorText(err), true);
    }
    renderTables();
  }

  const addressOf = (c: Channel) => c.url ?? c.baseUrl ?? (c.host ? `${c.host}:${c.port ?? ''}` : '');

  async function test(c: Channel, recipient: string | undefined): Promise<void> {
    say('…');
    try {
      const r = await api<{ ok: boolean; error: string | null }>(
        'POST',
        `/api/v1/notification-channels/${encodeURIComponent(c.name)}/test`,
        recipient ? { recipient } : {},
      );
      say(r.ok ? `${t('chTestOk')} ${c.name}` : `${t('chTestFailed')}: ${r.error ?? ''}`, !r.ok);
    } catch (err) {
      say(`${t('chTestFailed')}: ${(err as Error).message}`, true);
    }
    void log.refresh();
  }

  /** Telegram and e-mail need a recipient for a test: a small inline form under the table. */
  function askRecipient(c: Channel): void {
    const input = h('input', { name: 'recipient', required: true, 'aria-label': t('chTestRecipient') });
    const form = h(
      'form',
      { class: 'ww-form' },
      h('label', {}, t('chTestRecipient'), input),
      h(
        'div',
        { class: 'ww-actions' },
        h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, t('chTest')),
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      formBox.replaceChildren();
      void test(c, input.value.trim());
    });
    formBox.replaceChildren(form);
    input.focus();
  }

  function openChannelForm(c: Channel | null): void {
    let type: Channel['type'] = c?.type ?? 'webhook';
    const fields = h('div', { class: 'ww-ch-fields' });
    const error = h('p', { class: 'ww-error' });
    const name = h('input', {
      name: 'name',
      required: true,
      pattern: '[a-z0-9][a-z0-9_-]{0,63}',
      value: c?.name ?? '',
      disabled: c !== null,
    });
    const typeSel = select(
      { name: 'type', disabled: c !== null },
      (['webhook', 'telegram', 'email'] as const).map((x): [string, string] => [x, t(TYPE_KEY[x])]),
      type,
    );
    const drawFields = () => {
      fields.replaceChildren(
        ...FIELDS[type].map(([field, key, kind]) => {
          const current = c ? (c as unknown as Record<string, unknown>)[field] : undefined;
          const input = h('input', {
            name: field,
            type: kind,
            value:
              kind === 'checkbox' || SECRET.has(field) ? null : ((current as string | number | null) ?? ''),
            checked: kind === 'checkbox' && current === true,
            placeholder: SECRET.has(field) && c?.secretSet ? t('chSecretKeep') : null,
            autocomplete: SECRET.has(field) ? 'new-password' : 'off',
          });
          return h('label', { class: kind === 'checkbox' ? 'ww-check' : null }, t(key), input);
        }),
      );
    };
    typeSel.addEventListener('change', () => {
      type = typeSel.value as Channel['type'];
      drawFields();
    });
    drawFields();
    const form = h(
      'form',
      { class: 'ww-form', 'data-testid': 'channel-form' },
      h('h2', {}, t(c ? 'chEditChannel' : 'chAddChannel')),
      h('label', {}, t('chName'), name),
      h('label', {}, t('chType'), typeSel),
      fields,
      formActions(t('save'), () => formBox.replaceChildren()),
      error,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body: Record<string, unknown> = {};
      for (const [field, , kind] of FIELDS[type]) {
        const el = form.elements.namedItem(field) as HTMLInputElement;
        if (kind === 'checkbox') body[field] = el.checked;
        else if (kind === 'number') {
          if (el.value) body[field] = Number(el.value);
        } else if (el.value.trim()) body[field] = el.value.trim();
        // Empty: a secret is kept; another optional setting is left to its default.
      }
      const done = c
        ? api('PATCH', `/api/v1/notification-channels/${encodeURIComponent(c.name)}`, body)
        : api('POST', '/api/v1/notification-channels', { name: name.value.trim(), type, ...body });
      done.then(
        async () => {
          formBox.replaceChildren();
          say(t('chSaved'));
          await load();
        },
        (err: Error) => {
          showError(error, err);
        },
      );
    });
    formBox.replaceChildren(form);
    (c ? fields.querySelector('input') : name)?.focus();
  }

  function openRouteForm(r: Route | null): void {
    const error = h('p', { class: 'ww-error' });
    const kinds = h(
      'div',
      { class: 'ww-ch-kinds' },
      ...KINDS.map((k) =>
        h(
          'label',
          { class: 'ww-check' },
          h('input', { type: 'checkbox', name: 'kind', value: k, checked: r?.kinds?.includes(k) ?? false }),
          t(k),
        ),
      ),
    );
    const form = h(
      'form',
      { class: 'ww-form', 'data-testid': 'route-form' },
      h('h2', {}, t(r ? 'chEditRoute' : 'chAddRoute')),
      h(
        'label',
        {},
        t('chChannel'),
        select(
          { name: 'channel', required: true },
          channels.map((c): [string, string] => [c.name, `${c.name} (${t(TYPE_KEY[c.type])})`]),
          r?.channel ?? channels.find((c) => c.source === 'app')?.name ?? '',
        ),
      ),
      h(
        'label',
        {},
        t('chRecipients'),
        h('input', { name: 'recipients', required: true, value: r?.recipients.join(', ') ?? '' }),
      ),
      // Issue #12: wards by name (checkboxes), never typed as ids.
      h(
        'fieldset',
        { class: 'ww-ward-boxes' },
        h('legend', {}, t('chWardsPick')),
        ...store.wardOptions([...store.wards.keys(), ...(r?.wards ?? [])]).map(([id, name]) =>
          h(
            'label',
            { class: 'ww-check' },
            h('input', {
              type: 'checkbox',
              name: 'ward',
              value: id,
              checked: r?.wards?.includes(id) ?? false,
            }),
            name,
          ),
        ),
      ),
      h('fieldset', {}, h('legend', {}, t('chKinds')), kinds),
      h(
        'label',
        {},
        t('chAlertTypes'),
        h('input', { name: 'alertTypes', value: r?.alertTypes?.join(', ') ?? '' }),
      ),
      h(
        'label',
        {},
        t('chMinSeverity'),
        select(
          { name: 'minSeverity' },
          [['', t('chAnySeverity')], ...SEVERITIES.map((s): [string, string] => [s, label(s)])],
          r?.minSeverity ?? '',
        ),
      ),
      h(
        'div',
        { class: 'ww-actions' },
        h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, t('save')),
        h(
          'button',
          { class: 'ww-btn', type: 'button', onclick: () => routeFormBox.replaceChildren() },
          t('cancel'),
        ),
      ),
      error,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value;
      const checked = [...form.querySelectorAll<HTMLInputElement>('input[name=kind]:checked')].map(
        (x) => x.value,
      );
      const wardsChecked = [...form.querySelectorAll<HTMLInputElement>('input[name=ward]:checked')].map(
        (x) => x.value,
      );
      const body = {
        channel: v('channel'),
        recipients: csv(v('recipients')) ?? [],
        wards: wardsChecked.length ? wardsChecked : null,
        kinds: checked.length ? checked : null,
        alertTypes: csv(v('alertTypes')),
        minSeverity: v('minSeverity') || null,
      };
      const done = r
        ? api('PATCH', `/api/v1/notification-routes/${encodeURIComponent(r.id)}`, body)
        : api('POST', '/api/v1/notification-routes', body);
      done.then(
        async () => {
          routeFormBox.replaceChildren();
          say(t('chSaved'));
          await load();
        },
        (err: Error) => {
          showError(error, err);
        },
      );
    });
    routeFormBox.replaceChildren(form);
  }

  const remove = (path: string) => {
    if (!confirm(t('chConfirmDelete'))) return;
    api('DELETE', path).then(
      () => load(),
      (err: Error) => say(errorText(err), true),
    );
  };
  const btn = (text: string, onclick: () => void, attrs: Record<string, string> = {}) =>
    h('button', { class: 'ww-btn', type: 'button', onclick, ...attrs }, text);

  function renderTables(): void {
    channelBody.replaceChildren(
      ...(channels.length === 0 ? [h('tr', {}, h('td', { colspan: 7 }, t('chNoChannels')))] : []),
      ...channels.map((c) =>
        h(
          'tr',
          { 'data-channel': c.name },
          h('td', {}, h('b', {}, c.name)),
          h('td', {}, t(TYPE_KEY[c.type])),
          h('td', {}, t(c.readOnly ? 'chFromConfig' : 'chFromApp')),
          h('td', { class: 'ww-ch-address' }, addressOf(c)),
          h('td', {}, t(c.secretSet ? 'chSecretSet' : 'chSecretUnset')),
          h('td', {}, String(c.routes)),
          h(
            'td',
            {},
            h(
              'div',
              { class: 'ww-ch-buttons' },
              btn(t('chTest'), () => (c.type === 'webhook' ? void test(c, undefined) : askRecipient(c)), {
                'data-action': 'test',
              }),
              c.readOnly ? null : btn(t('edit'), () => openChannelForm(c), { 'data-action': 'edit' }),
              c.readOnly
                ? null
                : btn(t('chDelete'), () =>
                    remove(`/api/v1/notification-channels/${encodeURIComponent(c.name)}`),
                  ),
              btn(t('chLog'), () => log.showChannel(c.name)),
            ),
          ),
        ),
      ),
    );
    routeBody.replaceChildren(
      ...(routes.length === 0 ? [h('tr', {}, h('td', { colspan: 7 }, t('chNoRoutes')))] : []),
      ...routes.map((r) =>
        h(
          'tr',
          { 'data-route': r.id },
          h('td', {}, r.channel),
          h('td', {}, r.recipients.join(', ')),
          h('td', {}, r.wards?.map((w) => store.wardName(w)).join(', ') ?? t('chAll')),
          h('td', {}, r.kinds?.map((k) => label(k)).join(', ') ?? t('chAll')),
          h('td', {}, r.alertTypes?.map((a) => label(a)).join(', ') ?? t('chAll')),
          h('td', {}, r.minSeverity ? label(r.minSeverity) : t('chAnySeverity')),
          h(
            'td',
            {},
            h(
              'div',
              { class: 'ww-ch-buttons' },
              r.readOnly
                ? t('chFromConfig')
                : [
                    btn(t('edit'), () => openRouteForm(r)),
                    btn(t('chDelete'), () =>
                      remove(`/api/v1/notification-routes/${encodeURIComponent(r.id)}`),
                    ),
                  ],
            ),
          ),
        ),
      ),
    );
  }

  const table = (heads: MessageKey[], body: HTMLElement) =>
    h(
      'div',
      { class: 'ww-table-wrap' },
      h(
        'table',
        { class: 'ww-table' },
        h('thead', {}, h('tr', {}, ...heads.map((k) => h('th', {}, t(k))), h('th', {}))),
        body,
      ),
    );

  root.append(
    h(
      'section',
      { class: 'ww-page ww-channels' },
      h('h1', {}, t('chTitle')),
      h('p', { class: 'ww-ch-intro' }, t('chIntro')),
      h(
        'div',
        { class: 'ww-filters' },
        h(
          'button',
          { class: 'ww-btn ww-btn-primary', type: 'button', onclick: () => openChannelForm(null) },
          t('chAddChannel'),
        ),
      ),
      message,
      formBox,
      table(['chName', 'chType', 'chSource', 'chAddress', 'chSecret', 'chRoutesCount'], channelBody),
      h(
        'section',
        { class: 'ww-ch-section' },
        h('h2', {}, t('chRoutes')),
        h(
          'div',
          { class: 'ww-filters' },
          h(
            'button',
            { class: 'ww-btn ww-btn-primary', type: 'button', onclick: () => openRouteForm(null) },
            t('chAddRoute'),
          ),
        ),
        routeFormBox,
        table(['chChannel', 'chRecipient', 'ward', 'kind', 'type', 'chMinSeverity'], routeBody),
      ),
      log.el,
    ),
  );
  void load().then(() => log.refresh());
  return () => {};
}
