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
import {
  type DeviceFilter,
  DISPLAY_STATES,
  KINDS,
  matchesFilter,
  summarizeByKind,
  worstState,
} from './logic.ts';
import { store } from './store.ts';
import type { Device, DisplayState } from './types.ts';

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

  // Legend (bottom right): state colours and the kinds' glyphs.
  const legend = new L.Control({ position: 'bottomright' });
  legend.onAdd = () => {
    const box = h('div', { class: 'ww-legend', 'data-testid': 'legend' }, h('strong', {}, t('legend')));
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
  api<GeoJSON.FeatureCollection>('GET', '/web/outlines.geojson')
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
    const wards = [...new Set([...store.devices.values()].map((d) => d.ward))].sort();
    const current = wardSelect.value;
    wardSelect.replaceChildren(
      h('option', { value: '' }, t('allWards')),
      ...wards.map((w) => h('option', { value: w, selected: w === current }, w)),
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

  const renderSummary = () => {
    const byKind = summarizeByKind(
      [...store.devices.values()].map((d) => ({ kind: d.kind, state: store.stateOf(d) })),
    );
    // Issue #12: alerts outside incidents and incidents, counted apart.
    const counts = boardCounts(store.openAlerts.values(), store.openIncidents.values());
    // Gateways only where there are some: most wards have none.
    const kinds = KINDS.filter((k) => k !== 'gateway' || (byKind[k]?.total ?? 0) > 0);
    summary.replaceChildren(
      ...kinds.map((k) =>
        h(
          'span',
          { class: 'ww-summary-item', 'data-kind': k },
          h('span', { class: 'ww-summary-glyph' }),
          `${t(k)}: `,
          h('b', {}, `${byKind[k]?.online ?? 0}/${byKind[k]?.total ?? 0}`),
          ` ${label('online').toLowerCase()}`,
        ),
      ),
      h(
        'span',
        { class: 'ww-summary-item', 'data-testid': 'summary-alerts' },
        `${t('alertsCount')}: `,
        h('b', {}, String(counts.alerts)),
      ),
      h(
        'span',
        { class: 'ww-summary-item', 'data-testid': 'summary-incidents' },
        `${t('incidentsCount')}: `,
        h('b', {}, String(counts.incidents)),
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
    if (c.kind === 'reset') rebuild();
    else if (c.kind === 'incidents') renderSummary();
    else {
      const id = c.kind === 'device' ? c.id : c.deviceId;
      updateOne(id);
      refreshDevicePanel(panel, id);
    }
  });
  rebuild();
  return () => {
    unsubscribe();
    map.remove();
    delete window.wardwatchMap;
  };
}
