import { describe, expect, it } from 'vitest';
import { decodeOwnerMessage, ownerChannel } from '../../../services/cluster/owner-actions.ts';

/** Issue #14 (corepg): what travels on `ww:owner:<nodeId>` is checked before anything runs it. */
describe('owner action messages', () => {
  const req = {
    v: 1,
    kind: 'req',
    reqId: 'r1',
    from: 'node-a',
    subject: 'alert',
    act: { verb: 'ack', id: 5, by: 'tech.an', note: null },
  };

  it('decodes a request and a reply as sent', () => {
    expect(decodeOwnerMessage(JSON.stringify(req))).toEqual(req);
    const res = {
      v: 1,
      kind: 'res',
      reqId: 'r1',
      ok: false,
      code: 'WW_ERR_API_BAD_REQUEST',
      message: 'note',
    };
    expect(decodeOwnerMessage(JSON.stringify(res))).toEqual(res);
    expect(ownerChannel('node-a')).toBe('ww:owner:node-a');
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '7'],
    ['another version', JSON.stringify({ ...req, v: 2 })],
    ['no request id', JSON.stringify({ ...req, reqId: undefined })],
    ['an unknown subject', JSON.stringify({ ...req, subject: 'device' })],
    ['an unknown verb', JSON.stringify({ ...req, act: { ...req.act, verb: 'delete' } })],
    ['an id that is not an integer', JSON.stringify({ ...req, act: { ...req.act, id: '5' } })],
    ['no asker', JSON.stringify({ ...req, from: undefined })],
    ['an assignment without a username', JSON.stringify({ ...req, act: { verb: 'assign', id: 5, by: 'a' } })],
    ['a note that is not text', JSON.stringify({ ...req, act: { verb: 'note', id: 5, by: 'a', note: 3 } })],
    [
      'a note on an incident',
      JSON.stringify({ ...req, subject: 'incident', act: { verb: 'note', id: 5, by: 'a', note: 'x' } }),
    ],
    ['a reply without ok', JSON.stringify({ v: 1, kind: 'res', reqId: 'r1' })],
  ])('refuses %s', (_why, message) => {
    expect(decodeOwnerMessage(message)).toBeNull();
  });
});
