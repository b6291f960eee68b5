import nodemailer, { type Transporter } from 'nodemailer';
import type { OutgoingMessage } from '../types.ts';
import { DeliveryError, type NotificationProvider } from './provider.ts';

/**
 * E-mail over SMTP with nodemailer; recipients are addresses. The Message-ID derives from the
 * idempotency key, so a message re-sent after a crash threads as the same one in mail clients.
 * SMTP 5xx (mailbox unknown, relay denied) fails at once; 4xx and network errors are retried.
 */
export class EmailProvider implements NotificationProvider {
  readonly type = 'email' as const;
  private readonly transport: Transporter;
  constructor(
    private readonly opts: {
      host: string;
      port: number;
      secure: boolean;
      username: string | null;
      password: string | null;
      from: string;
      timeoutMs: number;
    },
  ) {
    this.transport = nodemailer.createTransport({
      host: opts.host,
      port: opts.port,
      secure: opts.secure,
      auth: opts.username ? { user: opts.username, pass: opts.password ?? '' } : undefined,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
    });
  }

  async send(recipient: string, message: OutgoingMessage) {
    try {
      const info = await this.transport.sendMail({
        from: this.opts.from,
        to: recipient,
        subject: message.subject,
        text: message.text,
        messageId: `<${message.idempotencyKey.replace(/[^A-Za-z0-9.:_-]/g, '_')}@wardwatch>`,
        headers: { 'X-Wardwatch-Idempotency-Key': message.idempotencyKey },
      });
      return { providerMessageId: typeof info.messageId === 'string' ? info.messageId : null };
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      const why = (err as Error).message ?? String(err);
      throw new DeliveryError(`smtp: ${why}`, {
        permanent: typeof code === 'number' && code >= 500,
        cause: err,
      });
    }
  }

  close() {
    this.transport.close();
  }
}
