/**
 * The broker's plain TCP and MQTT-over-TLS listeners (split out of mqtt-broker.ts for issue #14).
 * Every socket passes the connection gate as it arrives (issue #13) before `handle` gives it to
 * aedes; WebSocket streams arrive through the HTTP server instead (mqtt-broker.ts handleStream).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import type { ConnectionGate } from './connection-gate.ts';

const LISTEN_BACKLOG = 4096;

export interface ListenersDeps {
  config: Config;
  log: Logger;
  /** The broker's counters this module owns (BrokerStats). */
  stats: { tlsHandshakeFailures: number };
  gate: ConnectionGate;
  /** Serves an admitted connection (aedes). */
  handle(conn: Duplex): void;
}

export interface Listeners {
  start(): Promise<void>;
  /** Stops accepting; resolves once every connection has ended (the broker ends them). */
  close(): Promise<void>;
  /** The bound plain TCP port (useful with port 0); 0 when `broker.plainTcp` is off. */
  port(): number;
  /** The bound MQTT-over-TLS port; 0 when TLS is not configured. */
  tlsPort(): number;
}

/** Reads the TLS files at once, so a bad path fails the start-up instead of the first device. */
export function createListeners({ config, log, stats, gate, handle }: ListenersDeps): Listeners {
  const server: Server | null = config.broker.plainTcp
    ? createServer((socket: Socket) => {
        if (gate.admit(socket, socket.remoteAddress ?? 'unknown')) handle(socket);
      })
    : null;
  server?.on('error', (err) => log.error({ err }, 'mqtt listener error'));
  // Issue #7: MQTT over TLS with the same certificate as HTTPS (tls: section). Files are read here,
  // at construction, so a bad path fails the start-up instead of the first device.
  const { certFile, keyFile, caFile } = config.tls;
  const tlsServer =
    certFile && keyFile
      ? createTlsServer(
          {
            cert: readFileSync(certFile),
            key: readFileSync(keyFile),
            ...(caFile ? { ca: readFileSync(caFile) } : {}),
            // Client certificates are checked in authenticate (CN = device id), not at the handshake,
            // so devices without one still connect with their secret.
            ...(config.broker.clientCertificates === 'optional' && caFile
              ? { requestCert: true, rejectUnauthorized: false }
              : {}),
            // Issue #13: a handshake that never ends is an idle socket too.
            handshakeTimeout: config.broker.limits.connectTimeoutMs,
          },
          (socket) => {
            // Admitted (or not) as the TCP connection arrived, before the handshake.
            if (gate.adoptTls(socket)) handle(socket);
          },
        )
      : null;
  // Issue #13: a TLS socket holds its descriptor from the TCP accept on, through the handshake.
  tlsServer?.on('connection', (socket: Socket) => gate.admitTls(socket));
  tlsServer?.on('error', (err) => log.error({ err }, 'mqtt tls listener error'));
  // A failed handshake (plain MQTT on 8883, a scanner) is not a crash: log at debug and count.
  tlsServer?.on('tlsClientError', (err) => {
    stats.tlsHandshakeFailures++;
    log.debug({ err: err.message }, 'mqtt tls handshake failed');
  });
  let boundPort = 0;
  let boundTlsPort = 0;
  const listen = (srv: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      // A whole fleet reconnecting at once (issue #6 storm) overflows Node's default backlog of 511:
      // the kernel drops SYNs and clients wait seconds for their retransmit. The kernel caps this
      // at net.core.somaxconn.
      srv.listen({ port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
        srv.off('error', reject);
        const addr = srv.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });

  return {
    async start() {
      if (server) {
        boundPort = await listen(server, config.mqttPort);
        log.info({ port: boundPort, host: config.host }, 'mqtt listening');
      }
      if (tlsServer) {
        boundTlsPort = await listen(tlsServer, config.broker.tlsPort);
        log.info({ port: boundTlsPort, host: config.host }, 'mqtt over tls listening');
      }
    },
    async close() {
      await Promise.all(
        [server, tlsServer].map(
          (srv) => new Promise<void>((resolve) => (srv?.listening ? srv.close(() => resolve()) : resolve())),
        ),
      );
    },
    port: () => boundPort,
    tlsPort: () => boundTlsPort,
  };
}
