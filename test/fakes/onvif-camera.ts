/**
 * A fake ONVIF camera for tests (issue #5): SOAP 1.2 over HTTP for the calls the camera gateway
 * makes through node-onvif (GetSystemDateAndTime, GetCapabilities, GetDeviceInformation,
 * GetProfiles, GetStreamUri, GetSnapshotUri), WS-UsernameToken PasswordDigest checked like a real
 * camera (Base64(SHA-1(nonce + created + password)), `Created` within ±5 min of its clock), the
 * snapshot behind HTTP Digest auth, and a WS-Discovery responder.
 *
 * WS-Discovery answers on a UDP socket bound to a configurable address and port (default
 * 127.0.0.1:0): multicast to 239.255.255.250:3702 does not work in the sandbox, so the gateway's
 * discovery address is configurable and the tests probe 127.0.0.1 unicast.
 *
 * Switches: `silent` (drops every connection and probe), `clockShiftS`, `frozen` (the same JPEG
 * every time), `password` (change it to make the gateway's credentials wrong), `brokenSnapshot`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeOnvifCamera {
  /** Device service URL (`http://127.0.0.1:<port>/onvif/device_service`). */
  readonly xaddr: string;
  /** WS-Discovery UDP port on 127.0.0.1. */
  readonly discoveryPort: number;
  readonly urn: string;
  silent: boolean;
  clockShiftS: number;
  frozen: boolean;
  brokenSnapshot: boolean;
  password: string;
  /** Calls served, by SOAP method (and `snapshot`). */
  readonly calls: Record<string, number>;
  close(): Promise<void>;
}

export interface FakeOnvifOptions {
  username?: string;
  password?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  name?: string;
}

const SOAP_NS =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ' +
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" ' +
  'xmlns:ter="http://www.onvif.org/ver10/error"';
const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${SOAP_NS}><s:Body>${body}</s:Body></s:Envelope>`;
const NOT_AUTHORIZED = envelope(
  '<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code>' +
    '<s:Reason><s:Text xml:lang="en">Sender not Authorized</s:Text></s:Reason></s:Fault>',
);
const METHOD_RE =
  /<(?:\w+:)?(GetSystemDateAndTime|GetCapabilities|GetDeviceInformation|GetProfiles|GetStreamUri|GetSnapshotUri)\b/;
const tag = (xml: string, name: string) => new RegExp(`<(?:\\w+:)?${name}\\b[^>]*>([^<]*)<`).exec(xml)?.[1];

/** A small but well-formed baseline JPEG header + varying scan bytes + EOI. */
function jpeg(seed: number): Buffer {
  const head = Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex');
  const body = createHash('sha256').update(String(seed)).digest();
  return Buffer.concat([head, Buffer.alloc(2048, body), body, Buffer.from('ffd9', 'hex')]);
}

export async function startFakeOnvifCamera(opts: FakeOnvifOptions = {}): Promise<FakeOnvifCamera> {
  const username = opts.username ?? 'admin';
  const realm = 'IP Camera(C1234)';
  const urn = `urn:uuid:${randomBytes(16)
    .toString('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}`;
  let snapshotSeq = 0;
  const sockets = new Set<import('node:net').Socket>();

  const cam = {
    xaddr: '',
    discoveryPort: 0,
    urn,
    silent: false,
    clockShiftS: 0,
    frozen: false,
    brokenSnapshot: false,
    password: opts.password ?? 'cam-pass-1',
    calls: {} as Record<string, number>,
    close: async () => undefined,
  };
  const now = () => Date.now() + cam.clockShiftS * 1000;
  const base = () => cam.xaddr.replace('/onvif/device_service', '');

  /** WS-UsernameToken PasswordDigest, as ONVIF Core §5.12 requires. */
  const authorized = (xml: string): boolean => {
    const user = tag(xml, 'Username');
    const digest = tag(xml, 'Password');
    const nonce = tag(xml, 'Nonce');
    const created = tag(xml, 'Created');
    if (user !== username || !digest || !nonce || !created) return false;
    const expected = createHash('sha1')
      .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(cam.password)]))
      .digest('base64');
    return expected === digest && Math.abs(Date.parse(created) - now()) <= 300_000;
  };

  const answer = (method: string, xml: string): string => {
    switch (method) {
      case 'GetSystemDateAndTime': {
        const d = new Date(now());
        return (
          '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>' +
          '<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>ICT-7</tt:TZ></tt:TimeZone><tt:UTCDateTime>' +
          `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
          `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>` +
          '</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>'
        );
      }
      case 'GetCapabilities':
        return (
          '<tds:GetCapabilitiesResponse><tds:Capabilities>' +
          `<tt:Device><tt:XAddr>${cam.xaddr}</tt:XAddr></tt:Device>` +
          `<tt:Media><tt:XAddr>${base()}/onvif/media_service</tt:XAddr></tt:Media>` +
          '</tds:Capabilities></tds:GetCapabilitiesResponse>'
        );
      case 'GetDeviceInformation':
        return (
          `<tds:GetDeviceInformationResponse><tds:Manufacturer>KBVision</tds:Manufacturer>` +
          `<tds:Model>${opts.model ?? 'KX-A2111N2'}</tds:Model><tds:FirmwareVersion>${opts.firmware ?? 'V2.800.0000000.7.R'}</tds:FirmwareVersion>` +
          `<tds:SerialNumber>${opts.serial ?? '7J0A1B2C3D4E5F'}</tds:SerialNumber><tds:HardwareId>1.00</tds:HardwareId>` +
          '</tds:GetDeviceInformationResponse>'
        );
      case 'GetProfiles':
        return (
          '<trt:GetProfilesResponse><trt:Profiles token="MediaProfile000" fixed="true"><tt:Name>MainStream</tt:Name>' +
          '</trt:Profiles></trt:GetProfilesResponse>'
        );
      case 'GetStreamUri':
        return (
          `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://127.0.0.1:554/cam/realmonitor</tt:Uri>` +
          '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>' +
          '<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>'
        );
      case 'GetSnapshotUri':
        return (
          `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${base()}/onvif/snapshot.jpg</tt:Uri>` +
          '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>' +
          '<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>'
        );
      default:
        return xml;
    }
  };

  const nonces = new Set<string>();
  /** HTTP Digest (RFC 2617, MD5, qop=auth) as node-onvif's fetchSnapshot speaks it. */
  const digestOk = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Digest ')) return false;
    const p: Record<string, string> = {};
    for (const m of h.slice(7).matchAll(/(\w+)="?([^",]*)"?/g)) p[m[1] as string] = m[2] as string;
    if (p.username !== username || !p.nonce || !nonces.has(p.nonce)) return false;
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`${username}:${realm}:${cam.password}`);
    const ha2 = md5(`${req.method}:${p.uri}`);
    return p.response === md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
  };

  const snapshot = (req: IncomingMessage, res: ServerResponse) => {
    if (!digestOk(req)) {
      const nonce = randomBytes(16).toString('hex');
      nonces.add(nonce);
      res.writeHead(401, {
        'www-authenticate': `Digest realm="${realm}", qop="auth", nonce="${nonce}", algorithm=MD5`,
        'content-type': 'text/html',
      });
      return res.end('<html>401 Unauthorized</html>');
    }
    cam.calls.snapshot = (cam.calls.snapshot ?? 0) + 1;
    if (cam.brokenSnapshot) {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      return res.end(Buffer.from('not a jpeg'));
    }
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end(jpeg(cam.frozen ? 0 : ++snapshotSeq));
  };

  const server: Server = createServer((req, res) => {
    if (cam.silent) return req.socket.destroy();
    if (req.method === 'GET' && req.url?.startsWith('/onvif/snapshot.jpg')) return snapshot(req, res);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const method = METHOD_RE.exec(body)?.[1];
      if (!method) {
        res.writeHead(400, { 'content-type': 'application/soap+xml' });
        return res.end(envelope('<s:Fault><s:Reason><s:Text>unsupported</s:Text></s:Reason></s:Fault>'));
      }
      // GetSystemDateAndTime and GetCapabilities are PRE_AUTH (ONVIF Core §5.9.4).
      const preAuth = method === 'GetSystemDateAndTime' || method === 'GetCapabilities';
      if (!preAuth && !authorized(body)) {
        res.writeHead(400, { 'content-type': 'application/soap+xml' });
        return res.end(NOT_AUTHORIZED);
      }
      cam.calls[method] = (cam.calls[method] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/soap+xml; charset=utf-8' });
      res.end(envelope(answer(method, body)));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  cam.xaddr = `http://127.0.0.1:${port}/onvif/device_service`;

  // WS-Discovery responder (unicast on 127.0.0.1; see the header comment).
  const udp: Socket = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    if (cam.silent) return;
    const text = msg.toString('utf8');
    if (!text.includes('/discovery/Probe')) return;
    const relates = /<(?:\w+:)?MessageID>([^<]+)</.exec(text)?.[1] ?? '';
    const reply =
      '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
      'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ' +
      'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>' +
      '<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>' +
      `<a:MessageID>uuid:${randomBytes(16).toString('hex')}</a:MessageID><a:RelatesTo>${relates}</a:RelatesTo>` +
      '</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>' +
      `<a:EndpointReference><a:Address>${urn}</a:Address></a:EndpointReference>` +
      '<d:Types>dn:NetworkVideoTransmitter</d:Types>' +
      `<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/${opts.model ?? 'KX-A2111N2'} ` +
      `onvif://www.onvif.org/name/${(opts.name ?? 'KBVision Cam').replace(/ /g, '_')} onvif://www.onvif.org/location/hem_5</d:Scopes>` +
      `<d:XAddrs>${cam.xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>` +
      '</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>';
    udp.send(Buffer.from(reply), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  cam.discoveryPort = udp.address().port;

  cam.close = async () => {
    udp.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return cam;
}
