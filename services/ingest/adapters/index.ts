import type { DeviceProtocol } from '../../../devices/protocol/index.ts';
import { esphome } from './esphome.ts';
import { frigate } from './frigate.ts';
import { shellyGen2 } from './shelly-gen2.ts';
import { tasmota } from './tasmota.ts';
import type { Adapter } from './types.ts';

export type { Adapter, AdapterDevice, AdapterResult, MappedMessage } from './types.ts';

/** One adapter per stock firmware (docs/firmware.md); `wardwatch` is the native protocol itself. */
export const ADAPTERS: Partial<Record<DeviceProtocol, Adapter>> = {
  tasmota,
  'shelly-gen2': shellyGen2,
  esphome,
  frigate,
};
