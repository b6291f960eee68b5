import { api } from './api.ts';
import { h, select } from './dom.ts';
import { errorText, formatTime, type MessageKey, t } from './i18n.ts';
import type { Delivery } from './types.ts';

const SUBJECT: Record<Delivery['subjectType'], MessageKey> = {
  alert: 'chSubjectAlert',
  incident: 'chSubjectIncident',
  digest: 'chSubjectDigest',
};
const EVENT: Record<string, MessageKey> = {
  opened: 'chOpened',
  resolved: 'chResolved',
  repeat: 'chRepeat',
  escalated: 'chEscalated',
  digest: 'chDigest',
};

/** sent / retrying (pending after a failed attempt) / failed / waiting / cancelled (issue #12). */
export function deliveryStatus(d: Pick<Delivery, 'state' | 'attempts'>): { key: MessageKey; css: string } {
  if (d.state === 'sent') return { key: 'chSent', css: 'sent' };
  if (d.state === 'failed') return { key: 'chFailed', css: 'failed' };
  if (d.state === 'cancelled') return { key: 'chCancelled', css: 'cancelled' };
  return d.attempts > 0 ? { key: 'chRetrying', css: 'retrying' } : { key: 'chPending', css: 'pending' };
}

/**
 * The delivery log (issue #12): every notification with its state and the reason it failed or
 * was cancelled, per channel and per alert. Filters preset from the route (#/channels/alert-12,
 * #/channels/<channel>).
 */
export function deliveryLog(
  channels: () => string[],
  preset?: string,
): {
  el: HTMLElement;
  refresh(): Promise<void>;
  showChannel(name: string): void;
} {
  const f = {
    channel: preset && !preset.startsWith('alert-') ? preset : '',
    alert: preset?.startsWith('alert-') ? preset.slice(6) : '',
  };
  const body = h('tbody');
  const status = h('p', { class: 'ww-error', role: 'status' });
  const channelSel = select({ 'aria-label': t('chChannel'), 'data-testid': 'log-channel' }, [], '');
  const alertInput = h('input', {
    type: 'search',
    inputmode: 'numeric',
    placeholder: t('chAlertId'),
    'aria-label': t('chAlertId'),
    value: f.alert,
  });
  const fillChannels = () => {
    channelSel.replaceChildren(
      ...[['', t('chAllChannels')], ...channels().map((c) => [c, c])].map(([v, text]) =>
        h('option', { value: v, selected: v === f.channel }, text),
      ),
    );
  };
  channelSel.addEventListener('change', () => {
    f.channel = channelSel.value;
    void refresh();
  });
  alertInput.addEventListener('change', () => {
    f.alert = alertInput.value.trim();
    void refresh();
  });

  async function refresh(): Promise<void> {
    fillChannels();
    const q = new URLSearchParams({ limit: '200' });
    if (f.channel) q.set('channel', f.channel);
    if (/^[0-9]+$/.test(f.alert)) {
      q.set('subjectType', 'alert');
      q.set('subjectId', f.alert);
    }
    try {
      const r = await api<{ items: Delivery[] }>('GET', `/api/v1/notifications?${q}`);
      status.textContent = '';
      body.replaceChildren(
        ...(r.items.length === 0 ? [h('tr', {}, h('td', { colspan: 7 }, t('chNoDeliveries')))] : []),
        ...r.items.map((d) => {
          const s = deliveryStatus(d);
          return h(
            'tr',
            { 'data-delivery-id': d.id, 'data-state': s.css },
            h('td', {}, formatTime(d.sentAt ?? d.createdAt)),
            h(
              'td',
              {},
              d.subjectType === 'alert'
                ? h(
                    'a',
                    {
                      href: `#/channels/alert-${d.subjectId}`,
                      onclick: (e: Event) => {
                        e.preventDefault();
                        alertInput.value = d.subjectId;
                        f.alert = d.subjectId;
                        void refresh();
                      },
                    },
                    `${t(SUBJECT.alert)} #${d.subjectId}`,
                  )
                : `${t(SUBJECT[d.subjectType])} ${d.subjectType === 'incident' ? `#${d.subjectId}` : ''}`,
            ),
            h('td', {}, EVENT[d.event] ? t(EVENT[d.event] as MessageKey) : d.event),
            h('td', {}, d.channel),
            h('td', {}, d.recipient),
            h(
              'td',
              {},
              h('span', { class: `ww-badge ww-delivery-${s.css}` }, t(s.key)),
              d.attempts > 1 ? ` (${d.attempts} ${t('chAttempts')})` : '',
            ),
            h('td', { class: 'ww-reason' }, d.lastError ?? ''),
          );
        }),
      );
    } catch (err) {
      status.textContent = errorText(err);
    }
  }

  const el = h(
    'section',
    { class: 'ww-ch-section', 'data-testid': 'delivery-log' },
    h('h2', {}, t('chDeliveries')),
    h(
      'div',
      { class: 'ww-filters' },
      channelSel,
      alertInput,
      h('button', { class: 'ww-btn', type: 'button', onclick: () => void refresh() }, t('chRefresh')),
    ),
    status,
    h(
      'div',
      { class: 'ww-table-wrap' },
      h(
        'table',
        { class: 'ww-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...(
              ['chTime', 'chSubject', 'chEvent', 'chChannel', 'chRecipient', 'chStatus', 'chReason'] as const
            ).map((k) => h('th', {}, t(k))),
          ),
        ),
        body,
      ),
    ),
  );
  return {
    el,
    refresh,
    showChannel(name) {
      f.channel = name;
      f.alert = '';
      alertInput.value = '';
      void refresh();
      el.scrollIntoView();
    },
  };
}
