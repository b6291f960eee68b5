import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { MaintenanceEventJson, StatusSummaryJson } from '../../../services/api/schemas.ts';
import { maintenanceEventJson, summarize } from '../../../services/api/views.ts';
import type { Device } from '../../../services/registry/types.ts';

/**
 * Issue #12: the web app's types come from the server's schemas, but only as types. A value
 * import of server code would pull TypeBox, Node's Buffer and the rest into the browser bundle.
 */
const SRC = resolve(import.meta.dirname, '../../../services/web/src');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm;

describe('web imports (issue #12)', () => {
  it('reaches outside services/web/src only with import type', () => {
    const offenders: string[] = [];
    let typeOnly = 0;
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const path = m[3] ?? '';
        if (!path.startsWith('.')) continue; // packages
        const outside = relative(SRC, resolve(file, '..', path)).startsWith('..');
        if (!outside) continue;
        if (m[2]) typeOnly++;
        else offenders.push(`${relative(SRC, file)}: ${path}`);
      }
    }
    expect(offenders).toEqual([]);
    expect(typeOnly).toBeGreaterThanOrEqual(3); // types.ts and messages/common.ts
  });
});

/**
 * Issue #12 item 11: no hand copy of an API shape in the web app. The interfaces left are the
 * app's own (a Leaflet marker, a filter, message tables), named here so a new one is a decision.
 */
const OWN_INTERFACES = ['WwMarker', 'Window', 'Text', 'FieldText', 'DeviceFilter'];

describe('web types come from the API schemas (issue #12)', () => {
  it('declares no interface of its own except the app-only ones', () => {
    const found: string[] = [];
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:export\s+)?interface\s+(\w+)/gm)) {
        if (!OWN_INTERFACES.includes(m[1] ?? '')) found.push(`${relative(SRC, file)}: ${m[1]}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('types.ts exports only types derived from schemas (Static<typeof …> or built from them)', () => {
    const text = readFileSync(join(SRC, 'types.ts'), 'utf8');
    const handShaped = [...text.matchAll(/^export type (\w+) = \{/gm)].map((m) => m[1]);
    expect(handShaped).toEqual([]);
    for (const name of ['MaintenanceEvent', 'StatusSummary', 'Ward', 'MaintenanceWindow', 'Incident']) {
      expect(text).toMatch(new RegExp(`export type ${name} = Static<typeof \\w+>;`));
    }
  });

  it('the SSE maintenance payload and the summary are what their schemas say', () => {
    const event = maintenanceEventJson(
      {
        windowId: 3,
        at: Date.UTC(2026, 11, 3, 1),
        wards: ['w1', 'w2'],
        devices: [
          { deviceId: 'cam-1', ward: 'w1', maintenance: true },
          { deviceId: 'cam-2', ward: 'w2', maintenance: true },
        ],
      },
      (w) => w === 'w1',
    );
    expect(Value.Check(MaintenanceEventJson, event)).toBe(true);
    expect(event?.devices).toEqual([{ deviceId: 'cam-1', ward: 'w1', maintenance: true }]);
    const summary = summarize(
      [{ id: 'cam-1', kind: 'camera', ward: 'w1' } as Device],
      () => 'online',
      () => true,
    );
    expect([...Value.Errors(StatusSummaryJson, summary)]).toEqual([]);
    expect(summary.maintenance).toBe(1);
  });
});
