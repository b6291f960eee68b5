import type { Client } from 'aedes';
import type { RateLimit } from './limits.ts';
import type { BrokerDevice } from './permission.ts';

/** The authenticated device id rides on the aedes client (a stock firmware's client id is not it). */
export type DeviceClient = Client & {
  wwDeviceId?: string;
  wwCredential?: number;
  wwPublishLimit?: RateLimit;
  /** Issue #15 (client-limits.ts): the packet cap kept for this client, and the registry record it is from. */
  wwPacketCap?: number;
  wwCapDevice?: BrokerDevice | null;
};
export const deviceOf = (client: Client): string => (client as DeviceClient).wwDeviceId ?? client.id;
