import 'leaflet/dist/leaflet.css';
import 'leaflet.markercluster/dist/MarkerCluster.css';
import L from './leaflet-global.ts';
import 'leaflet.markercluster';
import { api } from './api.ts';
import { openDevicePanel, refreshDevicePanel } from './device-panel.ts';
import { h, select } from './dom.ts';
import { label, t } from './i18n.ts';
import { kindSvg } from './icons.ts';
import { boardCounts } from './incident-logic.ts';
import { type DeviceFilter, DISPLAY_STATES, KINDS, matchesFilter, worstState } from './logic.ts';
import { store } from './store.ts';
import type { Device, DisplayState, StatusSummary, Ward } from './types.ts';

interface WwMarker extends L.Marker {
  wwState: DisplayState;
  wwId: string;
}

/** For the browser tests and for debugging from the console. */
declare global {
  interface Window {
    wardwatchMap?: { map: L.Map; cluster: L.MarkerClusterGroup };
  }
}

const FALLBACK_CENTER: L.LatLngTuple = [21.03, 105.85];
/** The summary bar re-reads the API's counts this long after the last change (a storm: one read). */
const SUMMARY_DEBOUNCE_MS = 150;
/** Where the phone layout starts (style.css has the same breakpoint). */
const PHONE_QUERY = '(max-width: 600px)';

function markerIcon(d: Device, state: DisplayState): L.DivIcon {
  return L.divIcon({
    className: `ww-marker ww-state-${state} ww-kind-${d.kind}`,
    html: `<span data-device-id="${d.id}" data-state="${state}" title="">${kindSvg(d.kind)}</span>`,
    iconSize: [22, 22],
    iconAnchor: [11, 11],
  });
}

function clusterIcon(cluster: L.MarkerCluster): L.DivIcon {
  const markers = cluster.getAllChildMarkers() as WwMarker[];
  const state = worstState(markers.map((m) => m.wwState));
  const n = cluster.getChildCount();
  const size = n < 100 ? 34 : n < 1000 ? 40 : 48;
  return L.divIcon({
    className: `ww-cluster ww-state-${state}`,
    html: `<span class="ww-cluster-count">${n}</span>`,
    iconSize: [size, size],
  });
}

export function renderMap(root: HTMLElement, focusId?: string): () => void {
  const filter: DeviceFilter = { ward: '', kind: '', state: '', hasOpenAlert: false };
  const summary = h('div', { class: 'ww-summary', 'data-testid': 'summary' });
  const wardSelect = select({ 'aria-label': t('ward') }, [['', t('allWards')]], '');
  const controls = h(
    'div',
    { class: 'ww-filters' },
    wardSelect,
    select(
      {
        'aria-label': t('kind'),
        onchange: (e: Event) => setFilter({ kind: (e.target as HTMLSelectElement).value }),
      },
      [['', t('allKinds')], ...KINDS.map((k): [string, string] => [k, t(k)])],
      '',
    ),
    select(
      {
        'aria-label': t('state'),
        onchange: (e: Event) => setFilter({ state: (e.target as HTMLSelectElement).value }),
      },
      [['', t('allStates')], ...DISPLAY_STATES.map((s): [string, string] => [s, label(s)])],
      '',
    ),
    h(
      'label',
      { class: 'ww-check' },
      h('input', {
        type: 'checkbox',
        onchange: (e: Event) => setFilter({ hasOpenAlert: (e.target as HTMLInputElement).checked }),
      }),
      ` ${t('hasOpenAlert')}`,
    ),
  );
  wardSelect.addEventListener('change', () => setFilter({ ward: wardSelect.value }));
  const mapEl = h('div', { class: 'ww-map', 'data-testid': 'map' });
  const panel = h('aside', { class: 'ww-panel', hidden: true, 'data-testid': 'device-panel' });
  root.append(
    h('div', { class: 'ww-map-page' }, h('div', { class: 'ww-map-bar' }, summary, controls), mapEl, panel),
  );

  const map = L.map(mapEl, { zoomControl: true, maxZoom: 19, minZoom: 3, zoomSnap: 0.5 }).setView(
    FALLBACK_CENTER,
    13,
  );
  const cluster = L.markerClusterGroup({
    chunkedLoading: true,
    maxClusterRadius: 35,
    showCoverageOnHover: false,
    iconCreateFunction: clusterIcon,
  });
  map.addLayer(cluster);
  window.wardwatchMap = { map, cluster };

  // Legend (bottom right): state colours and the kinds' glyphs. Folded on a phone (issue #12: open,
  // it covered a quarter of a 360-px map); the title unfolds it.
  const legend = new L.Control({ position: 'bottomright' });
  legend.onAdd = () => {
    const box = h(
      'details',
      { class: 'ww-legend', 'data-testid': 'legend', open: !window.matchMedia(PHONE_QUERY).matches },
      h('summary', {}, h('strong', {}, t('legend'))),
    );
    for (const s of DISPLAY_STATES) {
      box.append(h('div', {}, h('span', { class: `ww-swatch ww-state-${s}` }), ` ${label(s)}`));
    }
    for (const k of KINDS) {
      const glyph = h('span', { class: 'ww-legend-glyph ww-state-unknown', 'data-kind': k });
      glyph.innerHTML = kindSvg(k); // static SVG from icons.ts, no user data
      box.append(h('div', {}, glyph, ` ${t(k)}`));
    }
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  legend.addTo(map);

  // Background: tiles if configured and reachable; the ward outlines always, so a map without
  // internet still shows where things are.
  api<{ tileUrl: string; tileAttribution: string }>('GET', '/web/config.json')
    .then((c) => {
      if (c.tileUrl) L.tileLayer(c.tileUrl, { attribution: c.tileAttribution, maxZoom: 19 }).addTo(map);
    })
    .catch(() => {});
  let outlineBounds: L.LatLngBounds | null = null;
  // The outlines of the user's own wards (issue #12: GET /api/v1/wards is ward-scoped).
  api<{ items: Ward[] }>('GET', '/api/v1/wards')
    .then(
      (r): GeoJSON.FeatureCollection => ({
        type: 'FeatureCollection',
        features: r.items.flatMap((w) =>
          w.outline
            ? [
                {
                  type: 'Feature' as const,
                  properties: { ward: w.id, name: w.name },
                  geometry: w.outline as GeoJSON.Geometry,
                },
              ]
            : [],
        ),
      }),
    )
    .then((fc) => {
      if (fc.features.length === 0) return;
      const layer = L.geoJSON(fc, {
        style: { color: '#37474f', weight: 2, dashArray: '6 4', fillColor: '#90a4ae', fillOpacity: 0.08 },
        interactive: false,
      }).addTo(map);
      layer.bringToBack();
      outlineBounds = layer.getBounds();
      if (store.devices.size === 0) map.fitBounds(outlineBounds);
    })
    .catch(() => {});

  const markers = new Map<string, WwMarker>();
  let fitted = false;

  const visible = (d: Device, state: DisplayState) =>
    matchesFilter(d, state, store.alertsOf(d.id).length, filter);

  const makeMarker = (d: Device): WwMarker => {
    const state = store.stateOf(d);
    const m = L.marker([d.lat, d.lon], {
      icon: markerIcon(d, state),
      title: d.name,
      keyboard: true,
    }) as WwMarker;
    m.wwState = state;
    m.wwId = d.id;
    m.on('click', () => openDevicePanel(panel, d.id));
    return m;
  };

  const rebuild = () => {
    cluster.clearLayers();
    markers.clear();
    const shown: WwMarker[] = [];
    for (const d of store.devices.values()) {
      const m = makeMarker(d);
      markers.set(d.id, m);
      if (visible(d, m.wwState)) shown.push(m);
    }
    cluster.addLayers(shown);
    const wards = store.wardOptions([...store.devices.values()].map((d) => d.ward));
    const current = wardSelect.value;
    wardSelect.replaceChildren(
      h('option', { value: '' }, t('allWards')),
      ...wards.map(([id, name]) => h('option', { value: id, selected: id === current }, name)),
    );
    const focus = focusId ? store.devices.get(focusId) : undefined;
    if (focus && !fitted) {
      fitted = true;
      const m = markers.get(focus.id);
      if (m && cluster.hasLayer(m)) cluster.zoomToShowLayer(m);
      else map.setView([focus.lat, focus.lon], 18);
      openDevicePanel(panel, focus.id);
    }
    if (!fitted && store.devices.size > 0) {
      fitted = true;
      const b = L.latLngBounds([...store.devices.values()].map((d): L.LatLngTuple => [d.lat, d.lon]));
      if (outlineBounds) b.extend(outlineBounds);
      map.fitBounds(b.pad(0.05));
    }
    renderSummary();
  };

  const updateOne = (id: string) => {
    const d = store.devices.get(id);
    const m = markers.get(id);
    if (!d || !m) return rebuild();
    const state = store.stateOf(d);
    const was = cluster.hasLayer(m);
    const should = visible(d, state);
    m.wwState = state;
    m.setIcon(markerIcon(d, state));
    if (was && !should) cluster.removeLayer(m);
    else if (!was && should) cluster.addLayer(m);
    else if (was) cluster.refreshClusters(m);
    renderSummary();
  };

  // Issue #12: the device counts are the API's (/api/v1/status/summary), never counted again here,
  // so the bar and the API cannot disagree (they did: 33/45 here, 43/45 there, with 10 devices in
  // maintenance). Re-read shortly after any change; a late answer never overwrites a newer one.
  let counts: StatusSummary | null = null;
  let countsTimer: ReturnType<typeof setTimeout> | null = null;
  let countsSeq = 0;
  const loadCounts = () => {
    const seq = ++countsSeq;
    api<StatusSummary>('GET', '/api/v1/status/summary')
      .then((c) => {
        if (seq !== countsSeq) return;
        counts = c;
        renderSummary();
      })
      .catch(() => {});
  };
  const refreshCounts = () => {
    countsTimer ??= setTimeout(() => {
      countsTimer = null;
      loadCounts();
    }, SUMMARY_DEBOUNCE_MS);
  };

  const renderSummary = () => {
    const byKind = counts?.byKind;
    // Issue #12: alerts outside incidents and incidents, counted apart.
    const board = boardCounts(store.openAlerts.values(), store.openIncidents.values());
    // Gateways only where there are some: most wards have none.
    const kinds = KINDS.filter((k) => k !== 'gateway' || (byKind?.[k]?.total ?? 0) > 0);
    summary.replaceChildren(
      ...kinds.map((k) => {
        const c = byKind?.[k];
        return h(
          'span',
          {
            class: 'ww-summary-item',
            'data-kind': k,
            'data-online': c?.online ?? '',
            'data-total': c?.total ?? '',
            'data-maintenance': c?.maintenance ?? '',
          },
          h('span', { class: 'ww-summary-glyph' }),
          `${t(k)}: `,
          h('b', {}, c ? `${c.online}/${c.total}` : '…'),
          ` ${label('online').toLowerCase()}`,
          c && c.maintenance > 0 ? ` · ${c.maintenance} ${label('maintenance').toLowerCase()}` : null,
        );
      }),
      h(
        'span',
        { class: 'ww-summary-item', 'data-testid': 'summary-alerts' },
        `${t('alertsCount')}: `,
        h('b', {}, String(board.alerts)),
      ),
      h(
        'span',
        { class: 'ww-summary-item', 'data-testid': 'summary-incidents' },
        `${t('incidentsCount')}: `,
        h('b', {}, String(board.incidents)),
      ),
      h(
        'span',
        { class: `ww-live ww-live-${store.live}` },
        store.live === 'live' ? `● ${t('live')}` : t('reconnecting'),
      ),
    );
  };

  const setFilter = (patch: Partial<DeviceFilter>) => {
    Object.assign(filter, patch);
    rebuild();
  };

  const unsubscribe = store.subscribe((c) => {
    refreshCounts();
    if (c.kind === 'reset') rebuild();
    else if (c.kind === 'incidents') renderSummary();
    else {
      const id = c.kind === 'device' ? c.id : c.deviceId;
      updateOne(id);
      refreshDevicePanel(panel, id);
    }
  });
  rebuild();
  loadCounts();
  return () => {
    unsubscribe();
    if (countsTimer) clearTimeout(countsTimer);
    map.remove();
    delete window.wardwatchMap;
  };
}
