import type { Kind } from './types.ts';

/**
 * Marker glyphs (inline SVG, coloured by the state class through currentColor): cameras square,
 * lights round, gateways (ONVIF gateway, NVR box) a hexagon, so the three read apart even in grey.
 */
const CAMERA =
  '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><rect x="1" y="1" width="22" height="22" rx="5" fill="currentColor" stroke="#fff" stroke-width="2"/><rect x="5" y="8" width="10" height="8" rx="1.5" fill="#fff"/><path d="M15 10.5l4-2.5v8l-4-2.5z" fill="#fff"/></svg>';
const LIGHT =
  '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="currentColor" stroke="#fff" stroke-width="2"/><path d="M12 5a5 5 0 0 0-3 9v2h6v-2a5 5 0 0 0-3-9z" fill="#fff"/><rect x="9.5" y="17" width="5" height="2" rx="1" fill="#fff"/></svg>';

const GATEWAY =
  '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><path d="M12 1l10.5 5.75v10.5L12 23 1.5 17.25V6.75z" fill="currentColor" stroke="#fff" stroke-width="2" stroke-linejoin="round"/><rect x="6" y="11" width="12" height="5.5" rx="1.2" fill="#fff"/><path d="M9 11V7.5M15 11V7.5" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/><circle cx="9" cy="13.75" r="1" fill="currentColor"/><circle cx="12" cy="13.75" r="1" fill="currentColor"/></svg>';

export function kindSvg(kind: Kind | string): string {
  if (kind === 'camera') return CAMERA;
  if (kind === 'gateway') return GATEWAY;
  return LIGHT;
}
