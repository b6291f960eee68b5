import type { Logger } from './logger.ts';

/**
 * Typed in-process event bus. Features talk through it instead of reaching into each other.
 * Every listener is wrapped: one failing feature is logged, never kills the emitter's caller
 * (a lesson from zigbee2mqtt's event bus).
 */
export class EventBus<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();
  constructor(private readonly log: Logger) {}

  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void | Promise<void>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const wrapped = (payload: Events[K]) => {
      try {
        const result = listener(payload);
        if (result && typeof (result as Promise<void>).catch === 'function') {
          (result as Promise<void>).catch((err: unknown) =>
            this.log.error({ err, event: String(event) }, 'event listener failed'),
          );
        }
      } catch (err) {
        this.log.error({ err, event: String(event) }, 'event listener failed');
      }
    };
    set.add(wrapped as (payload: never) => void);
    return () => set.delete(wrapped as (payload: never) => void);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of set) (l as (p: Events[K]) => void)(payload);
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
