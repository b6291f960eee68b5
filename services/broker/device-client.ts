import type { Client } from 'aedes';
import type { RateLimit } from './limits.ts';

/** The authenticated device id rides on the aedes client (a stock firmware's client id is not it). */
export type DeviceClient = Client & {
  wwDeviceId?: string;
  wwCredential?: number;
  wwPublishLimit?: RateLimit;
};
export const deviceOf = (client: Client): string => (client as DeviceClient).wwDeviceId ?? client.id;
