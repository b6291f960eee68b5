import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
  await h.addDevice({ id: 'cam-existing', ward: 'binh-ngoc' });
});
afterAll(() => h.close());

const importCsv = (csv: string, token = h.adminToken) =>
  h.call('POST', '/api/v1/devices/import', { token, body: csv, headers: { 'content-type': 'text/csv' } });

describe('POST /api/v1/devices/import (CSV)', () => {
  it('creates the good rows and reports each bad row on its own', async () => {
    const csv = [
      'id,kind,name,ward,lat,lon,address,heartbeatIntervalS,tags',
      'cam-csv-1,camera,"Cổng chợ, phía bắc",binh-ngoc,21.53,107.96,"1 Hùng Vương",20,installer=vnpt;pole=P12',
      'cam-csv-2,camera,No lat,binh-ngoc,,107.96,,,',
      'light-csv-1,light,Đèn 1,hoa-chung,21.52,107.95,,,',
      'cam-existing,camera,Dup,binh-ngoc,21.5,107.9,,,',
      'lamp-bad,lamp,Bad kind,binh-ngoc,21.5,107.9,,,',
      'cam-csv-3,camera,Bad lat,binh-ngoc,north,107.9,,,',
      'cam-csv-4,camera,Bad tags,binh-ngoc,21.5,107.9,,,justtext',
      'cam-csv-1,camera,Repeated in file,binh-ngoc,21.5,107.9,,,',
      'light-csv-2,light,Last good,hoa-chung,21.51,107.94,,60,',
    ].join('\n');
    const res = await importCsv(csv);
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(3);
    expect(res.body.failed).toBe(6);
    const byRow = new Map(res.body.results.map((r: { row: number }) => [r.row, r]));
    expect(byRow.get(1)).toMatchObject({ row: 1, id: 'cam-csv-1', status: 'created' });
    expect(byRow.get(2)).toMatchObject({
      id: 'cam-csv-2',
      status: 'error',
      error: { error: 'WW_ERR_API_BAD_REQUEST' },
    });
    expect((byRow.get(2) as { error: { message: string } }).error.message).toMatch(/^lat: /);
    expect(byRow.get(3)).toMatchObject({ id: 'light-csv-1', status: 'created' });
    expect(byRow.get(4)).toMatchObject({
      id: 'cam-existing',
      status: 'error',
      error: { error: 'WW_ERR_API_CONFLICT' },
    });
    expect((byRow.get(5) as { error: { message: string } }).error.message).toMatch(/^kind: /);
    expect((byRow.get(6) as { error: { message: string } }).error.message).toMatch(/^lat: /);
    expect((byRow.get(7) as { error: { message: string } }).error.message).toMatch(/^tags: /);
    expect(byRow.get(8)).toMatchObject({
      id: 'cam-csv-1',
      status: 'error',
      error: { error: 'WW_ERR_API_CONFLICT' },
    });
    expect(byRow.get(9)).toMatchObject({ id: 'light-csv-2', status: 'created' });

    // Created rows carry a working secret; error rows carry none.
    const first = byRow.get(1) as { secret: string };
    expect(await h.devices.verifySecret('cam-csv-1', first.secret)).toBe(true);
    expect(byRow.get(4)).not.toHaveProperty('secret');
    // Cells were converted: quoted comma, numbers, tags, empty address → null.
    expect(h.devices.get('cam-csv-1')).toMatchObject({
      name: 'Cổng chợ, phía bắc',
      lat: 21.53,
      lon: 107.96,
      address: '1 Hùng Vương',
      heartbeatIntervalS: 20,
      tags: { installer: 'vnpt', pole: 'P12' },
    });
    expect(h.devices.get('light-csv-2')).toMatchObject({ address: null, heartbeatIntervalS: 60, tags: {} });
    expect(h.devices.get('cam-csv-2')).toBeNull();
  });

  it('accepts the minimal header in any column order, with a BOM and CRLF', async () => {
    const res = await importCsv(
      '\uFEFFward,lon,lat,name,kind,id\r\nbinh-ngoc,107.9,21.5,Min,camera,cam-min-1\r\n',
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      created: 1,
      failed: 0,
      results: [{ row: 1, id: 'cam-min-1', status: 'created' }],
    });
  });

  it('400 for a header without a required column or with an unknown one (nothing created)', async () => {
    const missing = await importCsv('id,kind,name,ward,lat\ncam-h-1,camera,X,binh-ngoc,21.5\n');
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/lon/);
    const unknown = await importCsv(
      'id,kind,name,ward,lat,lon,colour\ncam-h-2,camera,X,binh-ngoc,21.5,107,red\n',
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/colour/);
    expect(h.devices.get('cam-h-1')).toBeNull();
    expect(h.devices.get('cam-h-2')).toBeNull();
  });

  it('a short row is that row’s error', async () => {
    const res = await importCsv(
      'id,kind,name,ward,lat,lon\ncam-short,camera,Short\ncam-long-ok,camera,Ok,binh-ngoc,21,107\n',
    );
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ row: 1, status: 'error' });
    expect(res.body.results[1]).toMatchObject({ row: 2, id: 'cam-long-ok', status: 'created' });
  });

  it('400 for broken CSV', async () => {
    const res = await importCsv('id,kind,name,ward,lat,lon\n"cam-q,camera,X,binh-ngoc,1,2\n');
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^body: invalid CSV/);
  });
});

describe('POST /api/v1/devices/import (JSON)', () => {
  it('creates the good items and reports the bad ones', async () => {
    const res = await h.call('POST', '/api/v1/devices/import', {
      token: h.adminToken,
      body: [
        {
          id: 'cam-json-1',
          kind: 'camera',
          name: 'A',
          ward: 'binh-ngoc',
          lat: 21.5,
          lon: 107.9,
          tags: { a: 'b' },
        },
        { id: 'cam-json-2', kind: 'camera', name: 'B', ward: 'binh-ngoc', lat: 21.5, lon: 200 },
        'not an object',
        { id: 'cam-existing', kind: 'camera', name: 'C', ward: 'binh-ngoc', lat: 21.5, lon: 107.9 },
        { id: 'light-json-1', kind: 'light', name: 'D', ward: 'hoa-chung', lat: 21.5, lon: 107.9, extra: 1 },
        { id: 'light-json-2', kind: 'light', name: 'E', ward: 'hoa-chung', lat: 21.5, lon: 107.9 },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(2);
    expect(res.body.failed).toBe(4);
    const r = res.body.results;
    expect(r.map((x: { status: string }) => x.status)).toEqual([
      'created',
      'error',
      'error',
      'error',
      'error',
      'created',
    ]);
    expect(r[1].error.message).toMatch(/^lon: /);
    expect(r[2]).toMatchObject({ row: 3, id: null, error: { error: 'WW_ERR_API_BAD_REQUEST' } });
    expect(r[3].error.error).toBe('WW_ERR_API_CONFLICT');
    expect(r[4].error.message).toMatch(/^extra: /);
    expect(await h.devices.verifySecret('light-json-2', r[5].secret)).toBe(true);
  });

  it('is one transaction (issue #14): when the database fails the batch, no row is stored and every row says so', async () => {
    // A database failure on one row (not a conflict): SQLite aborts the statement, and the batch.
    h.db.exec(
      "CREATE TRIGGER import_boom BEFORE INSERT ON devices WHEN NEW.id = 'cam-tx-boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
    );
    try {
      const item = (id: string) => ({
        id,
        kind: 'camera',
        name: id,
        ward: 'binh-ngoc',
        lat: 21.5,
        lon: 107.9,
      });
      const res = await h.call('POST', '/api/v1/devices/import', {
        token: h.adminToken,
        body: [item('cam-tx-1'), item('cam-tx-boom'), item('cam-tx-2'), { id: 'cam-tx-bad' }],
      });
      expect(res.status).toBe(200);
      expect(res.body.created).toBe(0);
      expect(res.body.results.map((r: { error: { error: string } }) => r.error.error)).toEqual([
        'WW_ERR_API_INTERNAL',
        'WW_ERR_API_INTERNAL',
        'WW_ERR_API_INTERNAL',
        'WW_ERR_API_BAD_REQUEST',
      ]);
      expect(h.devices.get('cam-tx-1')).toBeNull();
      expect(h.db.prepare("SELECT count(*) AS n FROM devices WHERE id LIKE 'cam-tx-%'").get()).toEqual({
        n: 0,
      });
    } finally {
      h.db.exec('DROP TRIGGER import_boom');
    }
  });

  it('400 when the body is neither an array nor CSV', async () => {
    const res = await h.call('POST', '/api/v1/devices/import', { token: h.adminToken, body: { id: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('WW_ERR_API_BAD_REQUEST');
  });

  it('403 for non-admins; a ward-scoped admin gets forbidden rows for other wards', async () => {
    const tech = await h.tokenFor('tech', 'technician');
    expect((await importCsv('id,kind,name,ward,lat,lon\ncam-t,camera,T,binh-ngoc,1,2\n', tech)).status).toBe(
      403,
    );
    expect(h.devices.get('cam-t')).toBeNull();

    const wardAdmin = await h.tokenFor('admin.bn', 'admin', ['binh-ngoc']);
    const res = await importCsv(
      'id,kind,name,ward,lat,lon\ncam-w-1,camera,Mine,binh-ngoc,1,2\ncam-w-2,camera,Theirs,hoa-chung,1,2\n',
      wardAdmin,
    );
    expect(res.status).toBe(200);
    expect(res.body.results[0].status).toBe('created');
    expect(res.body.results[1]).toMatchObject({ status: 'error', error: { error: 'WW_ERR_API_FORBIDDEN' } });
    expect(h.devices.get('cam-w-2')).toBeNull();
  });

  it('401 without a token', async () => {
    expect((await importCsv('id,kind,name,ward,lat,lon\n', '')).status).toBe(401);
  });
});
