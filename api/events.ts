/**
 * A tiny typed event emitter for the library's handles (download, seed, play). Portable (no Node import), so the
 * browser engine can use the same shape. A listener that throws is reported to `onListenerError` and never breaks
 * the emitter or the other listeners: a user's bug in a progress callback must not stop a download.
 */

export type Listener<T> = (event: T) => void;

export interface TypedEvents<E extends object> {
  /** subscribes; returns the unsubscribe function */
  on<K extends keyof E>(type: K, listener: Listener<E[K]>): () => void;
  /** subscribes for the next event of `type` only */
  once<K extends keyof E>(type: K, listener: Listener<E[K]>): () => void;
}

export interface Emitter<E extends object> extends TypedEvents<E> {
  emit<K extends keyof E>(type: K, event: E[K]): void;
  /** drops every listener */
  clear(): void;
}

export function createEmitter<E extends object>(onListenerError: (err: unknown) => void = () => {}): Emitter<E> {
  const listeners = new Map<keyof E, Set<Listener<never>>>();
  const on = <K extends keyof E>(type: K, listener: Listener<E[K]>) => {
    let set = listeners.get(type);
    if (!set) {
      set = new Set();
      listeners.set(type, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
    };
  };
  return {
    on,
    once(type, listener) {
      const off = on(type, (e) => {
        off();
        listener(e);
      });
      return off;
    },
    emit(type, event) {
      for (const l of [...(listeners.get(type) ?? [])]) {
        try {
          (l as Listener<typeof event>)(event);
        } catch (err) {
          onListenerError(err);
        }
      }
    },
    clear: () => listeners.clear(),
  };
}
