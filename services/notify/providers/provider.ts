import { WwError } from '../../core/errors.ts';
import type { OutgoingMessage } from '../types.ts';

/** One class per channel type, each with `send()` (uptime-kuma's notification providers). */
export interface NotificationProvider {
  readonly type: 'webhook' | 'telegram' | 'email';
  /** Resolves when the channel accepted the message; throws DeliveryError otherwise. */
  send(recipient: string, message: OutgoingMessage): Promise<{ providerMessageId: string | null }>;
  close?(): void;
}

/**
 * A failed delivery. `permanent`: retrying cannot help (bad chat id, 4xx, SMTP 5xx) → failed at once.
 * `retryAfterMs`: the channel said when to come back (Telegram 429 retry_after).
 */
export class DeliveryError extends WwError {
  readonly permanent: boolean;
  readonly retryAfterMs: number | null;
  constructor(
    message: string,
    opts: { permanent?: boolean; retryAfterMs?: number | null; cause?: unknown } = {},
  ) {
    super('WW_ERR_NOTIFY_DELIVERY', message, { cause: opts.cause });
    this.name = 'DeliveryError';
    this.permanent = opts.permanent ?? false;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

/** HTTP statuses worth retrying: timeouts, rate limits and server errors. Other 4xx are our fault. */
export const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** A network-level failure (refused, reset, timed out) is always retried. */
export function networkError(err: unknown): DeliveryError {
  const e = err as { name?: string; message?: string; cause?: { code?: string } };
  const what = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message ?? String(err));
  return new DeliveryError(`request failed: ${what}`, { cause: err });
}
