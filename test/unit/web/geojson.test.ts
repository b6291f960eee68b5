import { describe, expect, it } from 'vitest';
import { outlineFromGeoJson } from '../../../services/web/src/geojson.ts';

/** Issue #12: the wards screen takes an outline from any GeoJSON file an admin may have. */
const ring = (x: number) => [
  [x, 21],
  [x + 0.01, 21],
  [x + 0.01, 21.01],
  [x, 21],
];
const polygon = (x: number) => ({ type: 'Polygon', coordinates: [ring(x)] });

describe('outlineFromGeoJson', () => {
  it('takes a geometry, a Feature, or a one-feature collection as is', () => {
    expect(outlineFromGeoJson(polygon(107))).toEqual(polygon(107));
    expect(outlineFromGeoJson({ type: 'Feature', properties: {}, geometry: polygon(107) })).toEqual(
      polygon(107),
    );
    expect(
      outlineFromGeoJson({
        type: 'FeatureCollection',
        features: [{ type: 'Feature', geometry: polygon(107) }],
      }),
    ).toEqual(polygon(107));
  });

  it('joins several areas into one MultiPolygon and skips what is not an area', () => {
    const multi = { type: 'MultiPolygon', coordinates: [[ring(108)], [ring(109)]] };
    const doc = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: polygon(107) },
        { type: 'Feature', geometry: { type: 'Point', coordinates: [107, 21] } },
        { type: 'Feature', geometry: multi },
      ],
    };
    expect(outlineFromGeoJson(doc)).toEqual({
      type: 'MultiPolygon',
      coordinates: [[ring(107)], [ring(108)], [ring(109)]],
    });
  });

  it('null for no area at all', () => {
    expect(outlineFromGeoJson(null)).toBeNull();
    expect(outlineFromGeoJson({ type: 'Point', coordinates: [1, 2] })).toBeNull();
    expect(outlineFromGeoJson({ type: 'FeatureCollection', features: [] })).toBeNull();
    expect(outlineFromGeoJson('text')).toBeNull();
  });
});
