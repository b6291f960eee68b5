import { api } from './api.ts';
import { formActions, h, select } from './dom.ts';
import { errorText, formatTime, formLabel, label, t } from './i18n.ts';
import { KINDS } from './logic.ts';
import { store } from './store.ts';
import type { Device, Protocol } from './types.ts';

const PROTOCOLS: readonly Protocol[] = ['wardwatch', 'tasmota', 'shelly-gen2', 'esphome', 'frigate'];

/** Devices admin (admin role): search, add, edit, import CSV; a new device's secret is shown once. */
export function renderDevices(root: HTMLElement): () => void {
  const search = h('input', { type: 'search', placeholder: t('search'), 'aria-label': t('search') });
  const body = h('tbody');
  const secrets = h('div', { class: 'ww-secrets', 'data-testid': 'secrets' });
  const formBox = h('div');
  const fileInput = h('input', { type: 'file', accept: '.csv,text/csv', 'aria-label': t('importCsv') });
  fileInput.addEventListener('change', () => void importCsv());

  const showSecrets = (rows: Array<{ id: string; secret: string }>) => {
    secrets.replaceChildren(
      ...(rows.length ? [h('p', {}, t('secretOnce'))] : []),
      ...rows.map((r) =>
        h('p', {}, h('code', {}, r.id), ': ', h('code', { 'data-secret-for': r.id }, r.secret)),
      ),
    );
  };

  const importCsv = async () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    try {
      const r = await api<{
        created: number;
        failed: number;
        results: Array<{
          row: number;
          id?: string;
          status: string;
          secret?: string;
          error?: { message: string };
        }>;
      }>('POST', '/api/v1/devices/import', await file.text(), 'text/csv');
      showSecrets(r.results.filter((x) => x.secret && x.id).map((x) => ({ id: x.id!, secret: x.secret! })));
      secrets.prepend(
        h('p', {}, `${t('imported')}: ${r.created}, ${t('failed')}: ${r.failed}`),
        ...r.results
          .filter((x) => x.error)
          .map((x) =>
            h(
              'p',
              { class: 'ww-error', title: x.error?.message ?? '' },
              `#${x.row} ${x.id ?? ''}: ${errorText({ code: 'WW_ERR_API_BAD_REQUEST', ...x.error })}`,
            ),
          ),
      );
      await store.reload();
    } catch (err) {
      secrets.replaceChildren(h('p', { class: 'ww-error', title: (err as Error).message }, errorText(err)));
    }
    fileInput.value = '';
  };

  const openForm = (d: Device | null) => {
    const input = (
      name: string,
      value: string | number | null | undefined,
      attrs: Record<string, string> = {},
    ) => h('label', {}, `${formLabel(name)} `, h('input', { name, value: value ?? '', ...attrs }));
    const form = h(
      'form',
      { class: 'ww-form' },
      input(
        'id',
        d?.id,
        d ? { disabled: 'true' } : { required: 'true', pattern: '[a-z0-9][a-z0-9_-]{0,63}' },
      ),
      h(
        'label',
        {},
        `${formLabel('kind')} `,
        select(
          { name: 'kind', disabled: d !== null },
          KINDS.map((k): [string, string] => [k, t(k)]),
          d?.kind ?? 'camera',
        ),
      ),
      input('name', d?.name, { required: 'true' }),
      // A ward record by its name when there are some (issue #12); free text on older services.
      store.wards.size > 0
        ? h(
            'label',
            {},
            'ward ',
            select(
              { name: 'ward', required: true },
              store.wardOptions([...store.wards.keys(), ...(d ? [d.ward] : [])]),
              d?.ward ?? '',
            ),
          )
        : input('ward', d?.ward, { required: 'true' }),
      input('lat', d?.lat, { required: 'true', inputmode: 'decimal' }),
      input('lon', d?.lon, { required: 'true', inputmode: 'decimal' }),
      input('address', d?.address),
      input('heartbeatIntervalS', d?.heartbeatIntervalS, { inputmode: 'numeric' }),
      // The gateway or NVR a camera sits behind (issue #5), any device it depends on.
      input('parentId', d?.parentId, { list: 'ww-device-ids', pattern: '[a-z0-9][a-z0-9_-]{0,63}' }),
      input('powerZone', d?.powerZone),
      h(
        'label',
        {},
        `${formLabel('protocol')} `,
        select(
          { name: 'protocol' },
          PROTOCOLS.map((p): [string, string] => [p, label(p)]),
          d?.protocol ?? 'wardwatch',
        ),
      ),
      // Stock firmware's native topic or prefix (docs/firmware.md); empty for wardwatch.
      input('topic', d?.topic, { placeholder: t('topicHint') }),
      h(
        'datalist',
        { id: 'ww-device-ids' },
        [...store.devices.values()]
          .filter((x) => x.kind !== 'light' && x.id !== d?.id)
          .map((x) => h('option', { value: x.id }, x.name)),
      ),
      formActions(t('save'), () => formBox.replaceChildren()),
      h('p', { class: 'ww-error' }),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
      const common = {
        name: v('name'),
        ward: v('ward'),
        lat: Number(v('lat')),
        lon: Number(v('lon')),
        address: v('address') || (d ? null : undefined),
        heartbeatIntervalS: v('heartbeatIntervalS') ? Number(v('heartbeatIntervalS')) : d ? null : undefined,
        // Empty means "none": cleared on an edit, left out on a new device.
        parentId: v('parentId') || (d ? null : undefined),
        powerZone: v('powerZone') || (d ? null : undefined),
        protocol: v('protocol') as Protocol,
        topic: v('topic') || (d ? null : undefined),
      };
      const done = d
        ? api<Device>('PATCH', `/api/v1/devices/${encodeURIComponent(d.id)}`, common).then(() =>
            showSecrets([]),
          )
        : api<{ device: Device; secret: string }>('POST', '/api/v1/devices', {
            id: v('id'),
            kind: v('kind'),
            ...common,
          }).then((r) => showSecrets([{ id: r.device.id, secret: r.secret }]));
      done
        .then(async () => {
          formBox.replaceChildren();
          await store.reload();
        })
        .catch((err: Error) => {
          const box = form.querySelector<HTMLElement>('.ww-error')!;
          box.textContent = errorText(err);
          box.title = err.message;
        });
    });
    formBox.replaceChildren(form);
  };

  const render = () => {
    const q = search.value.trim().toLowerCase();
    const rows = [...store.devices.values()]
      .filter(
        (d) =>
          !q ||
          `${d.id} ${d.name} ${d.ward} ${store.wardName(d.ward)} ${d.address ?? ''}`
            .toLowerCase()
            .includes(q),
      )
      .slice(0, 500);
    // An empty table says why (issue #12: empty states have words too).
    if (rows.length === 0) {
      body.replaceChildren(
        h('tr', {}, h('td', { colspan: 7, class: 'ww-muted' }, t(q ? 'noMatchingDevices' : 'noDevices'))),
      );
      return;
    }
    body.replaceChildren(
      ...rows.map((d) => {
        const state = store.stateOf(d);
        return h(
          'tr',
          { 'data-device-id': d.id },
          h('td', {}, h('a', { href: `#/map/${encodeURIComponent(d.id)}` }, d.id)),
          h('td', {}, d.name),
          h('td', {}, t(d.kind)),
          h('td', {}, store.wardName(d.ward)),
          h('td', {}, h('span', { class: `ww-badge ww-state-${state}` }, label(state))),
          h('td', {}, formatTime(d.status.lastSeenAt)),
          h('td', {}, h('button', { class: 'ww-btn', onclick: () => openForm(d) }, t('edit'))),
        );
      }),
    );
  };
  search.addEventListener('input', render);

  root.append(
    h(
      'section',
      { class: 'ww-page' },
      h('h1', {}, t('devices')),
      h(
        'div',
        { class: 'ww-filters' },
        search,
        h('button', { class: 'ww-btn ww-btn-primary', onclick: () => openForm(null) }, t('add')),
        h('label', { class: 'ww-btn' }, t('importCsv'), fileInput),
      ),
      secrets,
      formBox,
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
              ...[t('deviceId'), t('name'), t('kind'), t('ward'), t('state'), t('lastSeen'), ''].map((c) =>
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
  render();
  return unsubscribe;
}
