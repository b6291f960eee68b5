import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** InfluxDB's answer to one write request. */
export interface PostAnswer {
  status: number;
  /** The body as text ('' for 204). */
  text: string;
}

export interface LinePoster {
  /**
   * POSTs `body` to `url`; rejects when InfluxDB cannot be reached or the whole request (answer
   * included) takes longer than `timeoutMs`.
   */
  post(body: Buffer): Promise<PostAnswer>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/**
 * The writer's one request a second to InfluxDB's /write, over node:http with a kept-alive
 * connection. Issue #15: not `fetch` (undici): at a ward's one request a second its JavaScript
 * stays cold and cost ~7.7 ms of CPU a second on a 2-core VM against ~2.0 for node:http, about a
 * quarter of the ward service's CPU (bench/results/2026-12-03-wardcpu.md); `AbortSignal.timeout`
 * also left a timer behind per request that woke the loop 5 s later.
 */
export function createLinePoster(opts: {
  url: URL;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
}): LinePoster {
  const https = opts.url.protocol === 'https:';
  // Two at most: the writer posts one request at a time (a second only while one is timing out).
  const agent = https
    ? new HttpsAgent({ keepAlive: true, maxSockets: 2 })
    : new HttpAgent({ keepAlive: true, maxSockets: 2 });
  const send = https ? httpsRequest : httpRequest;

  const post = (body: Buffer): Promise<PostAnswer> =>
    new Promise<PostAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, answer?: PostAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(answer as PostAnswer);
      };
      const req = send(
        opts.url,
        { method: 'POST', agent, headers: { ...opts.headers, 'content-length': String(body.length) } },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => finish(err));
          res.on('end', () =>
            finish(null, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      // The whole request, answer included (as the AbortSignal.timeout it replaces); cleared when
      // done, so it wakes nothing afterwards. Unref'd: a request in flight does not hold the process.
      const timer = setTimeout(() => {
        const err = new Error(`InfluxDB did not answer within ${opts.timeoutMs} ms`);
        req.destroy(err);
        finish(err);
      }, opts.timeoutMs);
      timer.unref();
      req.on('error', (err) => finish(err));
      req.end(body);
    });

  return { post, close: () => agent.destroy() };
}
