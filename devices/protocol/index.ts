export * from './native.ts';
export * from './payloads.ts';
export * from './topics.ts';
