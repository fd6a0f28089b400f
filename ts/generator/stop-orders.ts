/**
 * Stop orders before new work. On a saturated worker thread one event-loop turn
 * can take long (thousands of responses parsed, timers fired, guest jobs run), and
 * a stop order queued behind that work would let devices go on making requests
 * long after the ramp ended them. So stop and end orders travel on a port of their
 * own, and the worker reads that port synchronously (receiveMessageOnPort) before
 * each batch of guest code (the sandbox's turn) and before each other order: a
 * device the schedule has ended starts no new request once its order has arrived.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

let serve: (() => void) | undefined;

/** Installs the worker's reader of its stop-order port; `handle` serves one order. */
export function listenForStopOrders<T>(port: MessagePort, handle: (order: T) => void): void {
  serve = () => {
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) handle(m.message as T);
  };
  // When the thread is idle, an order is served as soon as it comes.
  port.on('message', handle);
}

/** Serves every stop order that has arrived; a no-op outside a worker thread that listens. */
export function serveStopOrders(): void {
  serve?.();
}
