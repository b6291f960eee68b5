import { field } from './admin-common.ts';
import { api, session } from './api.ts';
import { formActions, h, showError, UserError } from './dom.ts';
import { type Outline, outlineFromGeoJson } from './geojson.ts';
import { formatTime, t } from './i18n.ts';
import { store } from './store.ts';
import type { Ward } from './types.ts';

/**
 * Wards (admin, issue #12): each ward's name and outline (GeoJSON file). Devices and users refer
 * to a ward by its code; everyone reads its name. Only an admin of every ward adds one.
 */
export function renderWards(root: HTMLElement): () => void {
  const body = h('tbody');
  const formBox = h('div');
  const status = h('p', { class: 'ww-muted', role: 'status', 'data-testid': 'wards-status' });
  const mayCreate = (session.user()?.wards.length ?? 1) === 0;
  let closed = false;

  const load = async () => {
    await store.reloadWards();
    if (!closed) render();
  };
  const readOutline = async (input: HTMLInputElement): Promise<Outline | undefined> => {
    const file = input.files?.[0];
    if (!file) return undefined;
    let doc: unknown = null;
    try {
      doc = JSON.parse(await file.text());
    } catch {
      // not JSON: reported below like any other file without an area
    }
    const outline = outlineFromGeoJson(doc);
    if (!outline) throw new UserError(t('admOutlineBad'));
    return outline;
  };

  const openForm = (w: Ward | null) => {
    const code = h('input', {
      name: 'id',
      value: w?.id ?? '',
      required: true,
      disabled: w !== null,
      pattern: '[a-z0-9][a-z0-9_\\-]{0,63}',
      autocomplete: 'off',
    });
    const name = h('input', { name: 'name', value: w?.name ?? '', required: true, maxlength: 100 });
    const file = h('input', { type: 'file', name: 'outline', accept: '.geojson,.json,application/geo+json' });
    const remove = h('input', { type: 'checkbox', name: 'removeOutline' });
    const error = h('p', { class: 'ww-error', role: 'alert' });
    const form = h(
      'form',
      { class: 'ww-form', 'data-testid': 'ward-form' },
      h('h2', {}, w ? w.name : t('admNewWard')),
      field(t('admWardCode'), code),
      field(t('admWardName'), name),
      field(t('admOutlineFile'), file),
      w?.outline ? h('label', { class: 'ww-check' }, remove, t('admOutlineRemove')) : null,
      formActions(t('save'), () => formBox.replaceChildren()),
      error,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const save = async () => {
        const outline = remove.checked ? null : await readOutline(file);
        const payload = { name: name.value.trim(), ...(outline !== undefined && { outline }) };
        if (w) await api('PATCH', `/api/v1/wards/${encodeURIComponent(w.id)}`, payload);
        else await api('POST', '/api/v1/wards', { id: code.value.trim(), ...payload });
        status.textContent = `${t('admSaved')}: ${payload.name}`;
        formBox.replaceChildren();
        await load();
      };
      save().catch((err: Error) => {
        showError(error, err);
      });
    });
    formBox.replaceChildren(form);
    (w ? name : code).focus();
  };

  const render = () => {
    const devices = [...store.devices.values()];
    body.replaceChildren(
      ...[...store.wards.values()]
        .sort((a, b) => a.name.localeCompare(b.name, 'vi'))
        .map((w) =>
          h(
            'tr',
            { 'data-ward-id': w.id },
            h('td', {}, w.name),
            h('td', {}, w.outline ? t('admHasOutline') : t('admNoOutline')),
            h('td', {}, devices.filter((d) => d.ward === w.id).length),
            h('td', {}, formatTime(w.updatedAt)),
            h(
              'td',
              {},
              h('button', { class: 'ww-btn', type: 'button', onclick: () => openForm(w) }, t('edit')),
            ),
          ),
        ),
    );
  };

  root.append(
    h(
      'section',
      { class: 'ww-page ww-admin' },
      h('h1', {}, t('admWards')),
      mayCreate
        ? h(
            'div',
            { class: 'ww-filters' },
            h(
              'button',
              { class: 'ww-btn ww-btn-primary', type: 'button', onclick: () => openForm(null) },
              t('admNewWard'),
            ),
          )
        : null,
      status,
      formBox,
      h(
        'div',
        { class: 'ww-table-wrap' },
        h(
          'table',
          { class: 'ww-table', 'data-testid': 'wards' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              [t('name'), t('admOutline'), t('admDeviceCount'), t('admUpdated'), ''].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          body,
        ),
      ),
    ),
  );
  const unsubscribe = store.subscribe((c) => {
    if (c.kind === 'reset') render();
  });
  load().catch((err: Error) => {
    showError(status, err);
  });
  return () => {
    closed = true;
    unsubscribe();
  };
}
