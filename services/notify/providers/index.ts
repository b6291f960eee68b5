import type { NotifyChannelConfig, NotifyConfig } from '../types.ts';
import { EmailProvider } from './email.ts';
import type { NotificationProvider } from './provider.ts';
import { TelegramProvider } from './telegram.ts';
import { WebhookProvider } from './webhook.ts';

/** The provider of one channel (constructors do no I/O). */
export function createProvider(ch: NotifyChannelConfig, timeoutMs: number): NotificationProvider {
  switch (ch.type) {
    case 'webhook':
      return new WebhookProvider({ url: ch.url, secret: ch.secret, timeoutMs });
    case 'telegram':
      return new TelegramProvider({ baseUrl: ch.baseUrl, botToken: ch.botToken, timeoutMs });
    case 'email':
      return new EmailProvider({ ...ch, timeoutMs });
  }
}

/** One provider per configured channel (constructors do no I/O). */
export function createProviders(notify: NotifyConfig): Map<string, NotificationProvider> {
  const timeoutMs = notify.delivery.requestTimeoutMs;
  const out = new Map<string, NotificationProvider>();
  for (const [name, ch] of Object.entries(notify.channels)) out.set(name, createProvider(ch, timeoutMs));
  return out;
}
