import { api, session } from './api.ts';
import { h, select } from './dom.ts';
import { errorText, formatTime, t } from './i18n.ts';
import { sortWindows, vnInputToIso, vnLocalInput, windowPhase } from './maintenance-logic.ts';
import { store } from './store.ts';
import type { MaintenanceWindow } from './types.ts';

/**
 * Maintenance windows (issue #12): the list (on now, upcoming, ended), a form to create one for a
 * device, a power zone or a ward with from/to in Vietnam time, and "end now" for one that is on.
 * Viewers see the list only. Starting and ending reach every open page as SSE events (the store
 * turns the markers; this list re-reads itself).
 */
export function renderMaintenance(root: HTMLElement): () => void {
  const user = session.user();
  const canAct = user?.role === 'admin' || user?.role === 'technician';
  const list = h('div', { class: 'ww-cards', 'data-testid': 'maintenance-list' });
  const error = h('p', { class: 'ww-error', role: 'alert' });
  const page = h('section', { class: 'ww-page ww-maintenance' }, h('h1', {}, t('mntTitle')));
  root.append(page);

  let windows: MaintenanceWindow[] = [];
  const load = () =>
    api<{ items: MaintenanceWindow[] }>('GET', '/api/v1/maintenance')
      .then((r) => {
        windows = r.items;
        renderList();
      })
      .catch((err: unknown) => {
        error.textContent = errorText(err);
      });

  const form = canAct ? createForm(error, load) : null;
  page.append(form?.form ?? h('p', { class: 'ww-muted' }, t('mntViewOnly')));
  page.append(error, list);

  const target = (w: MaintenanceWindow): string => {
    const parts: string[] = [];
    if (w.deviceIds.length > 0) {
      const names = w.deviceIds.slice(0, 3).map((id) => store.devices.get(id)?.name ?? id);
      const more = w.deviceIds.length - names.length;
      parts.push(names.join(', ') + (more > 0 ? ` (+${more} ${t('mntDevicesMore')})` : ''));
    }
    if (w.powerZone) parts.push(`${t('powerZone')} ${w.powerZone}`);
    if (w.ward) parts.push(store.wardName(w.ward));
    return parts.join(' · ');
  };

  const card = (w: MaintenanceWindow) => {
    const phase = windowPhase(w, Date.now());
    const badge = { active: 'mntActive', upcoming: 'mntUpcoming', ended: 'mntEnded' } as const;
    const when =
      w.cron !== null
        ? `${t('mntRecurring')}: ${w.cron} (${Math.round((w.durationS ?? 0) / 60)} ${t('mntMinutes')})`
        : `${formatTime(w.from)} → ${formatTime(w.to)}`;
    const el = h(
      'article',
      { class: `ww-card ww-mnt-${phase}`, 'data-window-id': w.id, 'data-phase': phase },
      h(
        'header',
        {},
        h('span', { class: `ww-badge${phase === 'active' ? ' ww-state-maintenance' : ''}` }, t(badge[phase])),
      ),
      h('h3', {}, target(w)),
      h('p', {}, when),
      w.note ? h('p', {}, w.note) : null,
      h('p', { class: 'ww-muted' }, `${t('mntCreatedBy')}: ${w.createdBy}`),
      canAct && phase === 'active' && w.cron === null
        ? h(
            'div',
            { class: 'ww-actions' },
            h(
              'button',
              {
                class: 'ww-btn',
                type: 'button',
                'data-action': 'end',
                onclick: () => {
                  el.classList.add('ww-busy');
                  api('POST', `/api/v1/maintenance/${w.id}/end`).then(load, (err: unknown) => {
                    el.classList.remove('ww-busy');
                    error.textContent = errorText(err);
                  });
                },
              },
              t('mntEndEarly'),
            ),
          )
        : null,
    );
    return el;
  };

  const renderList = () => {
    const shown = sortWindows(windows, Date.now());
    list.replaceChildren(
      ...(shown.length === 0 ? [h('p', { class: 'ww-muted' }, t('mntNone'))] : shown.map(card)),
    );
  };

  // A window starting or ending anywhere in the user's wards (SSE), or the device list arriving
  // (names for the cards, choices for the form).
  const onMaintenance = () => void load();
  store.maintenanceListeners.add(onMaintenance);
  const unsubscribe = store.subscribe((c) => {
    if (c.kind === 'reset') renderList();
  });
  void load();
  return () => {
    store.maintenanceListeners.delete(onMaintenance);
    unsubscribe();
    form?.dispose();
  };
}

type TargetKind = 'device' | 'zone' | 'ward';

/** The create form; choices come from the devices the user can see (store). */
function createForm(
  error: HTMLElement,
  created: () => Promise<void>,
): { form: HTMLFormElement; dispose: () => void } {
  const allWards = (session.user()?.wards.length ?? 0) === 0;
  let kind: TargetKind = 'device';
  const kindSel = select(
    { name: 'targetKind', 'aria-label': t('mntTarget') },
    [
      ['device', t('mntTargetDevice')],
      ['zone', t('mntTargetZone')],
      ['ward', t('mntTargetWard')],
    ],
    kind,
  );
  const valueSel = h('select', { name: 'target', 'aria-label': t('mntDevice') });
  const valueLabel = h('span', {}, t('mntDevice'));
  const now = Date.now();
  const from = h('input', { name: 'from', type: 'datetime-local', required: true, value: vnLocalInput(now) });
  const to = h('input', {
    name: 'to',
    type: 'datetime-local',
    required: true,
    value: vnLocalInput(now + 2 * 3600_000),
  });
  const note = h('input', { name: 'note', type: 'text', maxlength: 1000 });

  /** Option values: a device id, `zone\u0000ward` (ward empty = every ward), or a ward. */
  const fillChoices = () => {
    const devices = [...store.devices.values()];
    let options: Array<[string, string]> = [];
    if (kind === 'device') {
      options = devices
        .sort((a, b) => a.name.localeCompare(b.name, 'vi'))
        .map((d): [string, string] => [d.id, `${d.name} (${store.wardName(d.ward)})`]);
    } else if (kind === 'zone') {
      const pairs = new Set<string>();
      for (const d of devices) {
        if (!d.powerZone) continue;
        pairs.add(`${d.powerZone}\u0000${d.ward}`);
        if (allWards) pairs.add(`${d.powerZone}\u0000`);
      }
      options = [...pairs].sort().map((p): [string, string] => {
        const [zone, ward] = p.split('\u0000');
        return [p, `${zone} · ${ward ? store.wardName(ward) : t('mntZoneAllWards')}`];
      });
    } else {
      options = [...new Set(devices.map((d) => d.ward))]
        .sort()
        .map((w): [string, string] => [w, store.wardName(w)]);
    }
    const label = { device: 'mntDevice', zone: 'mntTargetZone', ward: 'ward' } as const;
    valueSel.setAttribute('aria-label', t(label[kind]));
    valueLabel.textContent = t(label[kind]);
    valueSel.replaceChildren(...options.map(([v, text]) => h('option', { value: v }, text)));
  };
  kindSel.addEventListener('change', () => {
    kind = kindSel.value as TargetKind;
    fillChoices();
  });
  const unsubscribe = store.subscribe((c) => {
    if (c.kind === 'reset') fillChoices();
  });
  fillChoices();

  const form = h(
    'form',
    { class: 'ww-form ww-mnt-form', 'data-testid': 'maintenance-form' },
    h('h2', { class: 'ww-form-title' }, t('mntNew')),
    h('label', {}, t('mntTarget'), kindSel),
    h('label', {}, valueLabel, valueSel),
    h('label', {}, t('mntFrom'), from),
    h('label', {}, t('mntTo'), to),
    h('label', {}, t('note'), note),
    h('button', { class: 'ww-btn ww-btn-primary', type: 'submit' }, t('mntCreate')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    const fromIso = vnInputToIso(from.value);
    const toIso = vnInputToIso(to.value);
    if (!fromIso || !toIso || Date.parse(toIso) <= Date.parse(fromIso)) {
      error.textContent = t('mntToAfterFrom');
      return;
    }
    const v = valueSel.value;
    if (!v) {
      error.textContent = t('mntPickTarget');
      return;
    }
    const body: Record<string, unknown> = { from: fromIso, to: toIso };
    if (note.value.trim()) body.note = note.value.trim();
    if (kind === 'device') body.deviceIds = [v];
    else if (kind === 'ward') body.ward = v;
    else {
      const [zone, ward] = v.split('\u0000');
      body.powerZone = zone;
      if (ward) body.ward = ward;
    }
    form.classList.add('ww-busy');
    api('POST', '/api/v1/maintenance', body)
      .then(
        () => {
          note.value = '';
          return created();
        },
        (err: unknown) => {
          error.textContent = errorText(err);
        },
      )
      .finally(() => form.classList.remove('ww-busy'));
  });
  return { form, dispose: unsubscribe };
}
