import mqtt, { type MqttClient } from 'mqtt';
import { createMqttBroker, type MessageHandler, type MqttBroker } from '../../services/broker/mqtt-broker.ts';
import { loadConfig } from '../../services/core/config.ts';
import { createLogger } from '../../services/core/logger.ts';

/**
 * The broker alone on port 0 (plain TCP, no TLS) with one camera `cam-1` (secret `s`), and a real
 * MQTT.js client connected as it: for broker tests that need neither the registry nor storage.
 */
export async function startOneCameraBroker(
  onMessage: MessageHandler,
): Promise<{ broker: MqttBroker; client: MqttClient; stop(): Promise<void> }> {
  const config = loadConfig({
    env: {},
    overrides: { host: '127.0.0.1', mqttPort: 0, broker: { tlsPort: 0, plainTcp: true } },
  });
  const broker = await createMqttBroker({
    config,
    log: createLogger('silent'),
    clock: { now: () => Date.now() },
    verifyDevice: async (id, secret) => (id === 'cam-1' && secret === 's' ? 1 : null),
    credentialValid: () => true,
    lookupDevice: () => ({ kind: 'camera', protocol: 'wardwatch', topic: null, parentId: null }),
    onMessage,
  });
  await broker.start();
  const client = mqtt.connect(`mqtt://127.0.0.1:${broker.port()}`, {
    clientId: 'cam-1',
    username: 'cam-1',
    password: 's',
    reconnectPeriod: 0,
  });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return {
    broker,
    client,
    async stop() {
      client.end(true);
      await broker.stop();
    },
  };
}
