/**
 * Receive timeouts of every socket on the thread under one Node timer. A
 * receive that waits is put in the slot of its deadline (rounded up to
 * SLOT_MS); the timer wakes for the earliest slot and expires what is in it. A
 * setTimeout/clearTimeout pair per receive cost more than the native receive
 * itself; a slot insert and delete is a Set operation.
 */

/** Granularity of receive timeouts: a receive times out up to this much late, never early. */
export const SLOT_MS = 10;

export interface Expiring {
  expire(): void;
}

export class ReceiveDeadlines<T extends Expiring> {
  private readonly slots = new Map<number, Set<T>>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /** Schedules `item.expire()` in `timeoutMs`; returns the slot to pass to `remove`. */
  add(item: T, timeoutMs: number): number {
    const slot = Math.ceil((performance.now() + timeoutMs) / SLOT_MS);
    let set = this.slots.get(slot);
    if (set === undefined) {
      set = new Set();
      this.slots.set(slot, set);
    }
    set.add(item);
    if (slot < this.armedFor) this.arm(slot);
    return slot;
  }

  remove(item: T, slot: number): void {
    const set = this.slots.get(slot);
    if (set === undefined) return;
    set.delete(item);
    if (set.size === 0) this.slots.delete(slot);
    if (this.slots.size === 0) this.disarm();
  }

  private arm(slot: number): void {
    clearTimeout(this.timer);
    this.armedFor = slot;
    this.timer = setTimeout(this.fire, Math.max(0, slot * SLOT_MS - performance.now()));
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = performance.now() / SLOT_MS;
    let next = Infinity;
    for (const [slot, set] of this.slots) {
      if (slot > now) {
        next = Math.min(next, slot);
        continue;
      }
      this.slots.delete(slot);
      for (const item of set) item.expire();
    }
    // expire() may have added receives; they armed the timer themselves.
    if (next < this.armedFor) this.arm(next);
  };
}
