import { describe, expect, it } from 'vitest';
import { deliveryStatus } from '../../../services/web/src/channels-log.ts';
import { en, vi } from '../../../services/web/src/messages/channels.ts';

/** Issue #12: the delivery log's statuses and the channels screen's texts. */
describe('channels screen', () => {
  it('names a pending delivery that already failed once "retrying", else "waiting"', () => {
    expect(deliveryStatus({ state: 'pending', attempts: 0 }).key).toBe('chPending');
    expect(deliveryStatus({ state: 'pending', attempts: 2 }).key).toBe('chRetrying');
    expect(deliveryStatus({ state: 'sent', attempts: 3 }).key).toBe('chSent');
    expect(deliveryStatus({ state: 'failed', attempts: 1 }).key).toBe('chFailed');
    expect(deliveryStatus({ state: 'cancelled', attempts: 0 }).key).toBe('chCancelled');
    expect(vi.chRetrying).toBe('Đang thử lại');
  });

  it('texts are real Vietnamese first, never raw identifiers, and every key has English', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(vi).sort());
    for (const [key, text] of Object.entries(vi)) {
      expect(text.length, key).toBeGreaterThan(0);
      // No snake_case or camelCase words in what a user reads.
      expect(text, key).not.toMatch(/\b[a-z]+_[a-z_]+\b|\b[a-z]+[A-Z][A-Za-z]*\b/);
    }
    // Vietnamese, with its diacritics, in most of them (brand names such as Telegram excepted).
    const withDiacritics = Object.values(vi).filter((v) => /[à-ỹĐđ]/.test(v));
    expect(withDiacritics.length).toBeGreaterThan(Object.keys(vi).length * 0.8);
  });
});
