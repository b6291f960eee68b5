import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

/**
 * Issue #13 item 9: a device named like a formula must come out of the availability CSV as text,
 * over the real API (services/core/csv.ts is the one cell function every export uses).
 */
describe('CSV exports neutralise formulas', () => {
  let t: TestApp;
  const names = [
    '=HYPERLINK("http://evil.example","click")',
    '+cmd|calc!A1',
    '-2+3+cmd|calc!A1',
    '@SUM(1+9)*cmd|calc!A1',
  ];
  // A leading tab or CR never reaches a stored name (the registry trims names); csvCell still
  // neutralises them (test/unit/core/csv.test.ts).

  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl') });
    for (const [i, name] of names.entries()) await t.addDevice({ id: `cam-f${i}`, ward: 'csv-ward', name });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('prefixes each formula-looking name with a quote in the availability CSV', async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const r = await t.api<string>(
      'GET',
      `/api/v1/reports/availability?from=${from}&format=csv&ward=csv-ward`,
    );
    expect(r.status).toBe(200);
    const body = r.body.replace(/^\uFEFF/, '');
    for (const [i, name] of names.entries()) {
      const quoted = `'${name}`;
      const cell = /[",\r\n]/.test(quoted) ? `"${quoted.replaceAll('"', '""')}"` : quoted;
      expect(body).toContain(`cam-f${i},${cell},csv-ward,`);
    }
    // No cell of a data row starts with a formula character.
    expect(body).not.toMatch(/(^|,)"?[=+\-@]/m);
  });
});
