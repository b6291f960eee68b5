/**
 * Login of MQTT clients (issue #7, #13; split out of mqtt-broker.ts for issue #14): the CONNECT
 * check behind aedes' `authenticate` hook, and whether a session's credential is still valid.
 * - username = device id, password = device secret; or, on the TLS listener with
 *   `broker.clientCertificates: optional`, a verified client certificate whose CN is the device id;
 * - a wardwatch device's client id is its device id, so a device can never take over another
 *   device's session by choosing its client id. A stock firmware device keeps its firmware's client
 *   id (Tasmota `DVES_…`), so it may not use another registered device's id nor a client id whose
 *   session belongs to another device (issue #5): no session takeover either way;
 * - every CONNECT of an address counts towards broker.limits.connectRate; failed ones towards
 *   broker.connectLimits (per (device id, address), per address, per device id), so a locked-out
 *   guesser is refused before any secret check (no scrypt).
 * Refusals are CONNACK 5, logged with context and counted in broker.stats(). Time comes from the
 * clock passed in, so the limits are tested with a fake one (test/unit/broker/login.test.ts).
 */
import { TLSSocket } from 'node:tls';
import type { AuthenticateError, Client } from 'aedes';
import { isDeviceId } from '../../devices/protocol/index.ts';
import { LoginLimiter } from '../auth/login-limiter.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { ConnectRateLimiter, type RateLimit } from './limits.ts';
import type { LookupDevice } from './permission.ts';

/** The credential "generation" of a session authenticated by a client certificate. */
export const CERTIFICATE_CREDENTIAL = -1;

const NOT_AUTHORIZED = 5; // CONNACK return code 5 [MQTT-3.2.2-3], table 3.1

/** A CONNACK 5 refusal for aedes' authenticate hook. */
export function refuse(reason: string): AuthenticateError {
  const err = new Error(reason) as AuthenticateError;
  err.returnCode = NOT_AUTHORIZED;
  return err;
}

const refused = (reason: string): LoginResult => ({ ok: false, error: refuse(reason) });

/** What an accepted CONNECT binds to its connection. */
export interface LoginSession {
  /** The authenticated device (a stock firmware's client id is not it). */
  deviceId: string;
  /** The credential generation it authenticated with (CERTIFICATE_CREDENTIAL for a certificate). */
  credential: number;
  /** Its publish rate (broker.limits.publishRate: a gateway speaks for its children). */
  publishLimit: RateLimit;
}

export type LoginResult = { ok: true; session: LoginSession } | { ok: false; error: AuthenticateError };

export interface LoginDeps {
  config: Config;
  log: Logger;
  clock: { now(): number };
  /** The broker's counters this module owns (BrokerStats). */
  stats: { authFailures: number; lockedOut: number; connectRateLimited: number };
  /**
   * Device credential check (registry): the credential generation, or null. Async: a first check
   * per process runs scrypt on the thread pool. Must not reject.
   */
  verifyDevice(deviceId: string, secret: string): Promise<number | null>;
  /** Is the credential generation a session authenticated with still valid? */
  credentialValid(deviceId: string, generation: number): boolean;
  lookupDevice: LookupDevice;
  /** The client's source address (TCP peer, or the WebSocket request's). */
  addressOf(client: Client): string;
  /** The device whose live session holds `clientId`, if any (session takeover check). */
  sessionDeviceOf(clientId: string): string | undefined;
}

export interface Login {
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<LoginResult>;
  /**
   * Is a session of `deviceId` authenticated with credential `generation` still valid? A
   * certificate session ends only with the device (a secret rotation does not revoke it).
   */
  sessionValid(deviceId: string, generation: number): boolean;
}

export function createLogin(deps: LoginDeps): Login {
  const {
    config,
    log,
    clock,
    stats,
    verifyDevice,
    credentialValid,
    lookupDevice,
    addressOf,
    sessionDeviceOf,
  } = deps;
  const brokerLimits = config.broker.limits;
  // Issue #7, #13: failed CONNECTs per (device id, address), per address and per device id (same
  // rules as API logins): a device id is slowed down, never locked out for every address.
  const limits = config.broker.connectLimits;
  const limiter = new LoginLimiter({
    windowS: limits.windowS,
    maxFailuresPerAccount: limits.maxFailuresPerDevice,
    maxFailuresPerAddress: limits.maxFailuresPerAddress,
    lockoutS: limits.lockoutS,
    accountSlowdownAfterFailures: limits.deviceSlowdownAfterFailures,
    accountMaxDelayS: limits.deviceMaxDelayS,
  });
  /** Counts a refused CONNECT towards the limits and logs the lock-out once, when it starts. */
  const failed = (address: string, deviceKey: string) => {
    stats.authFailures++;
    const locked = limiter.recordFailure(address, deviceKey, clock.now());
    if (locked.length > 0)
      log.warn(
        {
          ip: address,
          deviceId: deviceKey,
          locked: locked.map((by) => by.replace('account', 'device')),
          lockoutS: limits.lockoutS,
        },
        'mqtt connect locked out after repeated failures',
      );
  };
  // Issue #6: every CONNECT of an address counts (broker.limits.connectRate).
  const connectRate = new ConnectRateLimiter(brokerLimits.connectRate);

  /** The CONNECT check; resolves to the refusal or the session. Never rejects on bad input. */
  async function authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<LoginResult> {
    const address = addressOf(client);
    const deviceKey = username && isDeviceId(username) ? username : '<invalid>';
    // Issue #6: every CONNECT of an address counts, refused or not (a reconnect loop, a scanner).
    const rate = connectRate.take(address, clock.now());
    if (!rate.allowed) {
      stats.connectRateLimited++;
      if (rate.episodeStart)
        log.warn(
          { ip: address, deviceId: deviceKey, reason: 'connect rate', ...brokerLimits.connectRate },
          'mqtt connect rate limited',
        );
      return refused('connect rate limited');
    }
    const verdict = limiter.check(address, deviceKey, clock.now());
    if (!verdict.allowed) {
      // Refused before any secret check: a locked-out guesser costs no scrypt.
      stats.lockedOut++;
      log.debug({ ip: address, deviceId: deviceKey, by: verdict.by }, 'mqtt connect refused: locked out');
      return refused('locked out');
    }
    const secret = password?.toString('utf8') ?? '';
    const certId = certificateDeviceId(client);
    // A verified client certificate (CN = device id) stands for the secret of that device only.
    const generation =
      certId !== null && username === certId
        ? CERTIFICATE_CREDENTIAL
        : username && isDeviceId(username) && secret
          ? await verifyDevice(username, secret)
          : null;
    const device = username && generation !== null ? lookupDevice(username) : null;
    if (!username || generation === null || !device) {
      failed(address, deviceKey);
      log.warn(
        { clientId: client.id, username, ip: address, reason: 'bad credentials' },
        'mqtt connect refused',
      );
      return refused('not authorized');
    }
    let reason: string | null = null;
    if (device.protocol === 'wardwatch') {
      if (client.id !== username) reason = 'client id must equal device id';
    } else if (client.id !== username && lookupDevice(client.id) !== null) {
      reason = 'client id is another device id';
    } else {
      const holder = sessionDeviceOf(client.id);
      if (holder !== undefined && holder !== username) reason = 'client id in use by another device';
    }
    if (reason) {
      failed(address, deviceKey);
      log.warn({ clientId: client.id, deviceId: username, ip: address, reason }, 'mqtt connect refused');
      return refused(reason);
    }
    limiter.recordSuccess(address, deviceKey, clock.now());
    return {
      ok: true,
      session: {
        deviceId: username,
        credential: generation,
        publishLimit:
          device.kind === 'gateway' ? brokerLimits.publishRate.gateway : brokerLimits.publishRate.device,
      },
    };
  }

  /** The device id in a client certificate verified against tls.caFile, or null. */
  function certificateDeviceId(client: Client): string | null {
    if (config.broker.clientCertificates !== 'optional') return null;
    const conn = (client as unknown as { conn?: unknown }).conn;
    if (!(conn instanceof TLSSocket) || !conn.authorized) return null;
    const cn = conn.getPeerCertificate()?.subject?.CN;
    return typeof cn === 'string' && isDeviceId(cn) ? cn : null;
  }

  return {
    authenticate,
    sessionValid: (deviceId, generation) =>
      generation === CERTIFICATE_CREDENTIAL
        ? lookupDevice(deviceId) !== null
        : credentialValid(deviceId, generation),
  };
}
