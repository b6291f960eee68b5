import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny webhook receiver for the demo (issue #12 item 10): what a technician's phone would get.
 * POST /hook checks `X-Wardwatch-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the
 * shared secret (written here from the documented format, not imported from the service: it is
 * the receiver's side of the contract), drops duplicates by Idempotency-Key, and keeps the
 * messages in memory. GET / is a page listing them, newest first; GET /messages.json the same
 * as JSON. A body with a bad signature is answered 401 and not listed.
 */

export interface ReceivedMessage {
  receivedAt: string;
  idempotencyKey: string;
  subjectType: string;
  event: string;
  ward: string;
  recipient: string;
  subject: string;
  text: string;
  link: string | null;
}

export interface Receiver {
  url: string;
  messages(): ReceivedMessage[];
  /** Requests refused for a bad or missing signature. */
  rejected(): number;
  close(): Promise<void>;
}

/** Longest body accepted: wardwatch messages are a few KB. */
const MAX_BODY_BYTES = 256 * 1024;
/** Messages kept for the page (oldest dropped first). */
const MAX_MESSAGES = 500;

export function validSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === want.length && timingSafeEqual(got, want);
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const EVENT_VI: Record<string, string> = {
  opened: 'Cảnh báo mới',
  resolved: 'Đã khắc phục',
  repeat: 'Nhắc lại',
  escalated: 'Chuyển cấp trên',
  digest: 'Bản tin hằng ngày',
  test: 'Tin nhắn thử',
};

function page(messages: ReceivedMessage[]): string {
  const items = messages
    .map(
      (m) => `<article class="${esc(m.event)}">
  <header><b>${esc(EVENT_VI[m.event] ?? m.event)}</b> · ${esc(m.subject)}</header>
  <pre>${esc(m.text)}</pre>
  <footer>nhận lúc ${esc(new Date(m.receivedAt).toLocaleString('vi-VN', { timeZone: 'Asia/Ho_Chi_Minh' }))}
    · người nhận ${esc(m.recipient)}${m.link ? ` · <a href="${esc(m.link)}">mở trong wardwatch</a>` : ''}</footer>
</article>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>Tin nhắn kỹ thuật viên nhận được</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:12px;background:#f4f5f7;max-width:720px}
h1{font-size:18px}article{background:#fff;border-left:4px solid #c62828;border-radius:6px;padding:8px 12px;margin:8px 0}
article.resolved{border-color:#2e7d32}article.test{border-color:#1565c0}
pre{white-space:pre-wrap;font:inherit;margin:6px 0}footer{font-size:12px;color:#666}
</style></head><body>
<h1>Tin nhắn kỹ thuật viên nhận được (${messages.length})</h1>
<p>Webhook demo của wardwatch: mỗi tin đã được kiểm tra chữ ký X-Wardwatch-Signature. Trang tự làm mới mỗi 5 giây.</p>
${items || '<p>Chưa có tin nào.</p>'}
</body></html>`;
}

export async function startReceiver(opts: {
  secret: string;
  port?: number;
  host?: string;
}): Promise<Receiver> {
  const messages: ReceivedMessage[] = [];
  const seen = new Set<string>();
  let rejected = 0;

  const answer = (res: ServerResponse, status: number, body: string, type = 'application/json') => {
    res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
    res.end(body);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      return answer(res, 200, page([...messages].reverse()), 'text/html');
    }
    if (req.method === 'GET' && req.url === '/messages.json') {
      return answer(res, 200, JSON.stringify({ items: [...messages].reverse(), rejected }));
    }
    if (req.method !== 'POST' || req.url !== '/hook') return answer(res, 404, '{"error":"not found"}');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const sig = req.headers['x-wardwatch-signature'];
      if (!validSignature(opts.secret, raw, typeof sig === 'string' ? sig : undefined)) {
        rejected++;
        return answer(res, 401, '{"error":"bad signature"}');
      }
      let body: Partial<ReceivedMessage>;
      try {
        body = JSON.parse(raw.toString('utf8')) as Partial<ReceivedMessage>;
      } catch {
        return answer(res, 400, '{"error":"not JSON"}');
      }
      const key = String(req.headers['idempotency-key'] ?? body.idempotencyKey ?? '');
      // A retried delivery carries the same key: a receiver shows it once.
      if (key && seen.has(key)) return answer(res, 200, '{"duplicate":true}');
      if (key) seen.add(key);
      messages.push({
        receivedAt: new Date().toISOString(),
        idempotencyKey: key,
        subjectType: String(body.subjectType ?? ''),
        event: String(body.event ?? ''),
        ward: String(body.ward ?? ''),
        recipient: String(body.recipient ?? ''),
        subject: String(body.subject ?? ''),
        text: String(body.text ?? ''),
        link: typeof body.link === 'string' ? body.link : null,
      });
      if (messages.length > MAX_MESSAGES) messages.shift();
      answer(res, 200, '{"ok":true}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    messages: () => [...messages],
    rejected: () => rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
