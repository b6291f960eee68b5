import type { Transporter } from 'nodemailer';
import type { OutgoingMessage } from '../types.ts';
import { DeliveryError, type NotificationProvider } from './provider.ts';

/**
 * E-mail over SMTP with nodemailer; recipients are addresses. The Message-ID derives from the
 * idempotency key, so a message re-sent after a crash threads as the same one in mail clients.
 * SMTP 5xx (mailbox unknown, relay denied) fails at once; 4xx and network errors are retried.
 * nodemailer is imported on the first message (issue #15): ~3 MiB of heap a service without an
 * e-mail channel, or whose channels have sent nothing yet, does not hold.
 */
export class EmailProvider implements NotificationProvider {
  readonly type = 'email' as const;
  private transport: Promise<Transporter> | null = null;
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
  ) {}

  private connect(): Promise<Transporter> {
    const { opts } = this;
    this.transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        host: opts.host,
        port: opts.port,
        secure: opts.secure,
        auth: opts.username ? { user: opts.username, pass: opts.password ?? '' } : undefined,
        connectionTimeout: opts.timeoutMs,
        greetingTimeout: opts.timeoutMs,
        socketTimeout: opts.timeoutMs,
      }),
    );
    return this.transport;
  }

  async send(recipient: string, message: OutgoingMessage) {
    try {
      const transport = await this.connect();
      const info = await transport.sendMail({
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
    // A transport still being created is closed once it is there; none was made: nothing to do.
    void this.transport?.then(
      (t) => t.close(),
      () => undefined, // the import failed: send() reported it
    );
  }
}
