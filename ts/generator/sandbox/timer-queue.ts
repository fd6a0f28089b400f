/**
 * Waiting devices share one Node timer: a min-heap of deadlines, armed for the
 * earliest. Ten thousand devices in `delay` cost ten thousand heap slots, not
 * ten thousand Timeout objects.
 */

/** Node clamps longer timeouts to 1 ms; we re-arm instead. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Entry<T> {
  due: number;
  item: T;
}

export class TimerQueue<T> {
  private readonly heap: Entry<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /** `onDue` receives every item whose deadline (performance.now() ms) has passed. */
  constructor(private readonly onDue: (items: T[]) => void) {}

  get size(): number {
    return this.heap.length;
  }

  add(due: number, item: T): void {
    const heap = this.heap;
    let i = heap.push({ due, item }) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.due <= due) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
    if (due < this.armedFor) this.arm();
  }

  clear(): void {
    this.heap.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(): void {
    clearTimeout(this.timer);
    const first = this.heap[0];
    if (first === undefined) {
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = first.due;
    const wait = Math.min(MAX_TIMEOUT_MS, Math.max(0, first.due - performance.now()));
    this.timer = setTimeout(this.fire, wait);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const due: T[] = [];
    while (this.heap.length > 0 && this.heap[0]!.due <= now) due.push(this.pop());
    this.arm();
    if (due.length > 0) this.onDue(due);
  };

  private pop(): T {
    const heap = this.heap;
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
