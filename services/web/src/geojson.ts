import type { Ward } from './types.ts';

export type Outline = NonNullable<Ward['outline']>;

/**
 * The area of a GeoJSON document as the API takes it: a Polygon or MultiPolygon geometry, from a
 * geometry, a Feature, or a FeatureCollection (several polygons become one MultiPolygon). null
 * when there is no area in it.
 */
export function outlineFromGeoJson(doc: unknown): Outline | null {
  const d = doc as { type?: string; geometry?: unknown; features?: unknown[]; coordinates?: unknown };
  if (d?.type === 'Polygon' || d?.type === 'MultiPolygon')
    // Not checked here: the API validates the coordinates (400 naming the field), the form shows that.
    return { type: d.type, coordinates: d.coordinates } as Outline;
  if (d?.type === 'Feature') return outlineFromGeoJson(d.geometry);
  if (d?.type === 'FeatureCollection' && Array.isArray(d.features)) {
    const parts = d.features.map(outlineFromGeoJson).filter((o): o is Outline => o !== null);
    if (parts.length === 0) return null;
    if (parts.length === 1) return parts[0] ?? null;
    const polygons = parts.flatMap((p) => (p.type === 'Polygon' ? [p.coordinates] : p.coordinates));
    return { type: 'MultiPolygon', coordinates: polygons };
  }
  return null;
}
