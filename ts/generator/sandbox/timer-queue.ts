/**
 * Waiting devices share one Node timer: min-heaps of deadlines, armed for the
 * earliest. Ten thousand devices in `delay` cost ten thousand heap slots, not
 * ten thousand Timeout objects.
 *
 * Waits of a second or more may end up to LAX_SLACK_MS late (1 % at most):
 * then the expiries of many devices that fall close together wake in one
 * event-loop turn, and the sandbox also takes along every such wait that is
 * already due whenever it runs a turn for another reason (a response). Each
 * turn into the guest has a fixed cost, so a thousand devices waking a second
 * cost a few hundred turns instead of a thousand. Shorter waits fire as soon
 * as Node's timer does.
 */

/** Node clamps longer timeouts to 1 ms; we re-arm instead. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** How late a wait of at least LAX_FROM_MS may end. */
export const LAX_SLACK_MS = 10;
export const LAX_FROM_MS = 1000;

interface Entry<T> {
  due: number;
  item: T;
}

/** A binary min-heap of entries by due time. */
class DueHeap<T> {
  readonly entries: Entry<T>[] = [];

  get first(): number {
    return this.entries[0]?.due ?? Infinity;
  }

  push(due: number, item: T): void {
    const heap = this.entries;
    let i = heap.push({ due, item }) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.due <= due) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  /** Moves every item due by `now` into `into`. */
  popDue(now: number, into: T[]): void {
    while (this.entries.length > 0 && this.entries[0]!.due <= now) into.push(this.pop());
  }

  private pop(): T {
    const heap = this.entries;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]!.due < heap[m]!.due) m = l;
        if (r < heap.length && heap[r]!.due < heap[m]!.due) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top.item;
  }
}

export class TimerQueue<T> {
  /** Waits that end when due. */
  private readonly precise = new DueHeap<T>();
  /** Waits that may end up to LAX_SLACK_MS after due; same slack for all, so due order is deadline order. */
  private readonly lax = new DueHeap<T>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /** `onDue` receives every item whose deadline (performance.now() ms) has passed, and the time it was taken. */
  constructor(private readonly onDue: (items: T[], now: number) => void) {}

  get size(): number {
    return this.precise.entries.length + this.lax.entries.length;
  }

  /** Queues `item` for `due` (performance.now() ms), the end of a wait of `waitMs`. */
  add(due: number, waitMs: number, item: T): void {
    const lax = waitMs >= LAX_FROM_MS;
    (lax ? this.lax : this.precise).push(due, item);
    if ((lax ? due + LAX_SLACK_MS : due) < this.armedFor) this.arm();
  }

  /** Hands every item already due (slack or not) to `onDue` at once; for a turn that runs anyway. */
  takeDue(now: number): void {
    if (this.precise.first > now && this.lax.first > now) return;
    this.release(now);
  }

  clear(): void {
    this.precise.entries.length = 0;
    this.lax.entries.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private release(now: number): void {
    const due: T[] = [];
    this.precise.popDue(now, due);
    this.lax.popDue(now, due);
    if (this.deadline() !== this.armedFor) this.arm();
    if (due.length > 0) this.onDue(due, now);
  }

  private deadline(): number {
    return Math.min(this.precise.first, this.lax.first + LAX_SLACK_MS);
  }

  private arm(): void {
    clearTimeout(this.timer);
    const deadline = this.deadline();
    this.armedFor = deadline;
    if (deadline === Infinity) {
      this.timer = undefined;
      return;
    }
    const wait = Math.min(MAX_TIMEOUT_MS, Math.max(0, deadline - performance.now()));
    this.timer = setTimeout(this.fire, wait);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    this.release(performance.now());
  };
}
