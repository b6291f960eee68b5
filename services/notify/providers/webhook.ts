import { createHmac } from 'node:crypto';
import type { OutgoingMessage } from '../types.ts';
import { DeliveryError, type NotificationProvider, networkError, retryableStatus } from './provider.ts';

export const SIGNATURE_HEADER = 'x-wardwatch-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** `sha256=<hex HMAC-SHA256 of the raw body>` (the GitHub webhook convention, so receivers know it). */
export const signBody = (secret: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

/**
 * POSTs the message as JSON. The body carries the idempotency key too (some receivers only see
 * bodies); a 2xx is delivered, 408/429/5xx and network errors are retried, other 4xx fail at once.
 */
export class WebhookProvider implements NotificationProvider {
  readonly type = 'webhook' as const;
  constructor(private readonly opts: { url: string; secret: string; timeoutMs: number }) {}

  async send(recipient: string, message: OutgoingMessage) {
    const body = JSON.stringify({
      idempotencyKey: message.idempotencyKey,
      subjectType: message.subjectType,
      event: message.event,
      ward: message.ward,
      recipient,
      subject: message.subject,
      text: message.text,
      link: message.link,
      data: message.data,
    });
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          [SIGNATURE_HEADER]: signBody(this.opts.secret, body),
          [IDEMPOTENCY_HEADER]: message.idempotencyKey,
        },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      throw networkError(err);
    }
    // Drain the body so the socket can be reused; its content does not matter.
    await res.text().catch(() => '');
    if (res.ok) return { providerMessageId: null };
    throw new DeliveryError(`webhook answered ${res.status}`, { permanent: !retryableStatus(res.status) });
  }
}
