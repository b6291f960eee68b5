import { api } from './api.ts';
import { h, select } from './dom.ts';
import { errorText, t } from './i18n.ts';
import { incidentCard } from './incident-card.ts';
import { store } from './store.ts';
import type { Incident } from './types.ts';

/**
 * #/incidents (issue #12): open and past area outages, newest first, each as the board's card
 * (the actions only on open ones). Reloaded whenever an incident opens, changes or ends.
 */
export function renderIncidents(root: HTMLElement): () => void {
  let state = '';
  const list = h('div', { class: 'ww-cards', 'data-testid': 'incident-list' });
  const drafts = new Map<string, string>();
  root.append(
    h(
      'section',
      { class: 'ww-page ww-incidents' },
      h('h1', {}, t('incidents')),
      h(
        'div',
        { class: 'ww-filters' },
        select(
          {
            'aria-label': t('state'),
            onchange: (e: Event) => {
              state = (e.target as HTMLSelectElement).value;
              void load();
            },
          },
          [
            ['', t('allIncidents')],
            ['open', t('openIncidents')],
            ['resolved', t('pastIncidents')],
          ],
          '',
        ),
      ),
      list,
    ),
  );

  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    try {
      const r = await api<{ items: Incident[] }>(
        'GET',
        `/api/v1/incidents?limit=200${state ? `&state=${state}` : ''}`,
      );
      // An older answer arriving after a newer one must not win.
      if (mine !== seq) return;
      list.replaceChildren(
        ...(r.items.length === 0
          ? [h('p', { class: 'ww-muted' }, t('noIncidents'))]
          : r.items.map((i) => incidentCard(i, drafts))),
      );
    } catch (err) {
      if (mine === seq)
        list.replaceChildren(h('p', { class: 'ww-error', title: (err as Error).message }, errorText(err)));
    }
  };

  const unsubscribe = store.subscribe((c) => {
    if (c.kind === 'incidents' || c.kind === 'reset') void load();
  });
  void load();
  return unsubscribe;
}
