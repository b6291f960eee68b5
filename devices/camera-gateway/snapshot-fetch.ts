import { createHash, randomBytes } from 'node:crypto';

/**
 * GET of a camera's snapshot URI with HTTP Digest auth (RFC 7616: MD5 or SHA-256, qop=auth),
 * else Basic. Not node-onvif's fetchSnapshot: its HTTP-auth helper is one shared object (two
 * cameras fetched at once can mix credentials) and its retried digest request has no error
 * listener (a camera dropping the connection at that moment crashes the process).
 */
export async function fetchSnapshot(
  uri: string,
  username: string,
  password: string,
  timeoutMs = 10_000,
): Promise<Buffer> {
  const url = new URL(uri);
  const path = `${url.pathname}${url.search}`;
  const get = (authorization?: string) =>
    fetch(url, {
      headers: authorization ? { authorization } : {},
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  let res = await get(`Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`);
  const challenge = res.headers.get('www-authenticate') ?? '';
  if (res.status === 401 && /^Digest /i.test(challenge)) {
    await res.arrayBuffer().catch(() => undefined);
    res = await get(digestHeader(challenge, 'GET', path, username, password));
  }
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${res.status} ${res.statusText}`);
  const type = res.headers.get('content-type') ?? 'image/jpeg';
  if (!type.startsWith('image/')) throw new Error(`Unexpected data: ${type}`);
  return body;
}

export function digestHeader(
  challenge: string,
  method: string,
  path: string,
  username: string,
  password: string,
): string {
  const p: Record<string, string> = {};
  for (const m of challenge.replace(/^Digest\s+/i, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g))
    p[(m[1] as string).toLowerCase()] = m[2] ?? m[3] ?? '';
  const algorithm = (p.algorithm ?? 'MD5').toUpperCase();
  const h = (s: string) =>
    createHash(algorithm.startsWith('SHA-256') ? 'sha256' : 'md5')
      .update(s)
      .digest('hex');
  const realm = p.realm ?? '';
  const nonce = p.nonce ?? '';
  const ha1 = h(`${username}:${realm}:${password}`);
  const ha2 = h(`${method}:${path}`);
  const qop = (p.qop ?? '')
    .split(',')
    .map((q) => q.trim())
    .includes('auth')
    ? 'auth'
    : '';
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const response = qop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
  const parts = [
    `username="${username}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${path}"`,
    `algorithm=${algorithm}`,
    `response="${response}"`,
  ];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (p.opaque) parts.push(`opaque="${p.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}
