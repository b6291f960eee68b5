export * from './firmware.ts';
export * from './native.ts';
export * from './payloads.ts';
export * from './tasmota-topic.ts';
export * from './topics.ts';
