import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * A ward's outline (issue #12): a GeoJSON geometry (RFC 7946), Polygon or MultiPolygon, positions
 * `[lon, lat]` in WGS 84. One schema: the API validates bodies with it and the seed checks the
 * configured files with it, so an outline in the table is always drawable.
 */
const Position = Type.Tuple([
  Type.Number({ minimum: -180, maximum: 180 }),
  Type.Number({ minimum: -90, maximum: 90 }),
]);
/** Closed ring: at least 4 positions, the last equal to the first (RFC 7946 §3.1.6). */
const Ring = Type.Array(Position, { minItems: 4, maxItems: 20_000 });
const PolygonCoordinates = Type.Array(Ring, { minItems: 1, maxItems: 100 });

export const WardOutline = Type.Union(
  [
    Type.Object(
      { type: Type.Literal('Polygon'), coordinates: PolygonCoordinates },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('MultiPolygon'),
        coordinates: Type.Array(PolygonCoordinates, { minItems: 1, maxItems: 100 }),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'GeoJSON Polygon or MultiPolygon geometry, positions [lon, lat]' },
);
export type WardOutline = Static<typeof WardOutline>;

/** Why an outline is not usable, or null. Covers what the schema cannot say (closed rings). */
export function outlineProblem(outline: unknown): string | null {
  if (!Value.Check(WardOutline, outline)) {
    const first = Value.Errors(WardOutline, outline).First();
    return `outline${first?.path ?? ''}: ${first?.message ?? 'not a GeoJSON Polygon or MultiPolygon'}`;
  }
  const polygons = outline.type === 'Polygon' ? [outline.coordinates] : outline.coordinates;
  for (const rings of polygons) {
    for (const ring of rings) {
      const a = ring[0];
      const b = ring[ring.length - 1];
      if (!a || !b || a[0] !== b[0] || a[1] !== b[1])
        return 'outline: every ring must be closed (last position = first)';
    }
  }
  return null;
}
