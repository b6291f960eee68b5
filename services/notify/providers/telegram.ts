import type { OutgoingMessage } from '../types.ts';
import { DeliveryError, type NotificationProvider, networkError, retryableStatus } from './provider.ts';

interface TelegramAnswer {
  ok?: boolean;
  description?: string;
  result?: { message_id?: number };
  parameters?: { retry_after?: number };
}

/** Telegram's limit for one message's text (https://core.telegram.org/bots/api#sendmessage). */
const MAX_TEXT = 4096;

/**
 * Telegram Bot API `sendMessage` (https://core.telegram.org/bots/api#sendmessage); recipients are
 * chat ids. Plain text (no parse_mode) so device names never break Markdown/HTML parsing.
 * The bot token is part of the URL: errors never include the URL.
 */
export class TelegramProvider implements NotificationProvider {
  readonly type = 'telegram' as const;
  constructor(private readonly opts: { baseUrl: string; botToken: string; timeoutMs: number }) {}

  async send(recipient: string, message: OutgoingMessage) {
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/bot${this.opts.botToken}/sendMessage`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({
          chat_id: recipient,
          text: message.text.slice(0, MAX_TEXT),
          link_preview_options: { is_disabled: true },
        }),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      throw networkError(err);
    }
    const answer = (await res.json().catch(() => ({}))) as TelegramAnswer;
    if (res.ok && answer.ok === true) {
      const id = answer.result?.message_id;
      return { providerMessageId: id === undefined ? null : String(id) };
    }
    const why = `telegram answered ${res.status}${answer.description ? `: ${answer.description}` : ''}`;
    // [Bot API] 429 carries parameters.retry_after in seconds: wait exactly that.
    const retryAfterS = answer.parameters?.retry_after;
    if (res.status === 429 && typeof retryAfterS === 'number') {
      throw new DeliveryError(why, { retryAfterMs: retryAfterS * 1000 });
    }
    // 400 chat not found, 403 bot blocked, 401 bad token: retrying will not help.
    throw new DeliveryError(why, { permanent: !res.ok && !retryableStatus(res.status) });
  }
}
