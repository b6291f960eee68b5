import type { NotifyConfig } from '../types.ts';
import { EmailProvider } from './email.ts';
import type { NotificationProvider } from './provider.ts';
import { TelegramProvider } from './telegram.ts';
import { WebhookProvider } from './webhook.ts';

/** One provider per configured channel (constructors do no I/O). */
export function createProviders(notify: NotifyConfig): Map<string, NotificationProvider> {
  const timeoutMs = notify.delivery.requestTimeoutMs;
  const out = new Map<string, NotificationProvider>();
  for (const [name, ch] of Object.entries(notify.channels)) {
    switch (ch.type) {
      case 'webhook':
        out.set(name, new WebhookProvider({ url: ch.url, secret: ch.secret, timeoutMs }));
        break;
      case 'telegram':
        out.set(name, new TelegramProvider({ baseUrl: ch.baseUrl, botToken: ch.botToken, timeoutMs }));
        break;
      case 'email':
        out.set(name, new EmailProvider({ ...ch, timeoutMs }));
        break;
    }
  }
  return out;
}
