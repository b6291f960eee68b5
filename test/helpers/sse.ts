import { get } from 'node:http';

/** A real HTTP connection to an SSE stream (GET /api/v1/events), read as it arrives. */
export function openSse(url: string): Promise<{ text(): string; ended: Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      resolve({ text: () => buf, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}
