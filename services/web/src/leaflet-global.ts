import L from 'leaflet';

// leaflet.markercluster is a UMD plugin that extends the global `L`; it must exist before that
// module is evaluated, hence this module, imported first.
(globalThis as unknown as { L: typeof L }).L = L;
export default L;
