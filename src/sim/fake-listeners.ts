import type { Logger } from "../core/index.js";

type AnyListener = (...args: never[]) => void;

/** A tiny typed listener registry; a throwing listener is logged and never breaks the gateway. */
export class Listeners<Events extends { [K in keyof Events]: AnyListener }> {
  private readonly sets = new Map<keyof Events, Set<AnyListener>>();

  constructor(private readonly log: Logger) {}

  /** Subscribes; returns an unsubscribe function. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.sets.get(event);
    if (!set) this.sets.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const listener of this.sets.get(event) ?? []) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (error) {
        this.log.warn({ err: error, event: String(event) }, "a fake gateway listener threw");
      }
    }
  }
}
