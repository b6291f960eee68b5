/**
 * Issue #6 (QoS 1 redelivery after a lost PUBACK) and issue #15 (every device's ring in one shared
 * array): what the cache answers, per device, across the ring's wrap and a forgotten device's slot
 * being reused by another.
 */
import { describe, expect, it } from 'vitest';
import { createRedeliveryCache } from '../../../services/broker/redelivery-cache.ts';

const b = (s: string) => Buffer.from(s);

describe('redelivery cache', () => {
  it('knows a remembered (id, payload) of the same device only', () => {
    const c = createRedeliveryCache(4);
    c.remember('cam-1', 7, b('{"seq":1}'));
    expect(c.seen('cam-1', 7, b('{"seq":1}'))).toBe(true);
    expect(c.seen('cam-1', 7, b('{"seq":2}'))).toBe(false);
    expect(c.seen('cam-1', 8, b('{"seq":1}'))).toBe(false);
    expect(c.seen('cam-2', 7, b('{"seq":1}'))).toBe(false);
  });

  it('keeps the last perDevice messages of each device', () => {
    const c = createRedeliveryCache(3);
    for (let id = 1; id <= 5; id++) c.remember('cam-1', id, b(`m${id}`));
    c.remember('cam-2', 1, b('m1'));
    expect([1, 2, 3, 4, 5].map((id) => c.seen('cam-1', id, b(`m${id}`)))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
    expect(c.seen('cam-2', 1, b('m1'))).toBe(true);
  });

  it('forgets a device, and its slot reused by another starts empty', () => {
    const c = createRedeliveryCache(2);
    c.remember('cam-1', 1, b('a'));
    c.remember('cam-1', 2, b('b'));
    c.forget('cam-1');
    expect(c.devices).toBe(0);
    expect(c.seen('cam-1', 1, b('a'))).toBe(false);
    c.remember('cam-2', 9, b('z'));
    expect(c.seen('cam-2', 1, b('a'))).toBe(false);
    expect(c.seen('cam-2', 2, b('b'))).toBe(false);
    expect(c.seen('cam-2', 9, b('z'))).toBe(true);
  });

  it('grows past its first block of devices without losing any', () => {
    const c = createRedeliveryCache(4);
    for (let i = 0; i < 1000; i++) c.remember(`cam-${i}`, (i % 65535) + 1, b(`p${i}`));
    expect(c.devices).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(c.seen(`cam-${i}`, (i % 65535) + 1, b(`p${i}`))).toBe(true);
  });
});
