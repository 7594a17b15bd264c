// Waiting for ring and perf buffers to become readable, for the async forms of their readers:
// an EpollWaiter (a thread sleeping in epoll_wait) raced against an AbortSignal and a timeout;
// and the read()/batches() loops every reader (ring, ring set, perf buffer) builds on it.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ClosedError, UsageError } from '../errors.js';
import { EpollWaiter } from '../syscall/epoll.js';

export interface WaitOptions {
  /** Stop waiting: the wait rejects with `signal.reason` (an AbortError by default). */
  signal?: AbortSignal;
  /** Give up after this long: the wait resolves with false (default: wait forever). */
  timeoutMs?: number;
}

const TIMED_OUT = Symbol('timed out');

/** A waiting thread on `fds` (each fd's token is its index), ended again if one cannot be added. */
export function waiterOn(what: string, keepAlive: boolean, fds: readonly number[]): EpollWaiter {
  const w = new EpollWaiter(what, { keepAlive });
  try {
    fds.forEach((fd, i) => w.add(fd, i));
  } catch (e) {
    w.close();
    throw e;
  }
  return w;
}

/**
 * Resolves with the tokens of the ready fds, or undefined on timeout. Rejects with the
 * signal's reason on abort, and with `closed()` once the waiter is closed.
 */
export function waitReadable(waiter: EpollWaiter, opts: WaitOptions, closed: () => ClosedError): Promise<number[] | undefined> {
  const { signal, timeoutMs } = opts;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)))
    return Promise.reject(new UsageError(`timeoutMs must be a number of milliseconds ≥ 0, got ${String(timeoutMs)}`));
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (waiter.closed) return Promise.reject(closed());
  const p = waiter.wait();
  if (signal === undefined && timeoutMs === undefined) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = (): void => waiter.cancel(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (timeoutMs !== undefined) timer = setTimeout(() => waiter.cancel(TIMED_OUT), timeoutMs);
  const cleanup = (): void => {
    signal?.removeEventListener('abort', onAbort);
    if (timer !== undefined) clearTimeout(timer);
  };
  return p.then(
    (tokens) => {
      cleanup();
      return tokens;
    },
    (e: unknown) => {
      cleanup();
      if (e === TIMED_OUT) return undefined;
      throw e;
    },
  );
}

/** What the read loops need of a reader: whether it is closed, and its wait(). */
export interface Waitable {
  readonly closed: boolean;
  wait(opts?: WaitOptions): Promise<boolean>;
}

/**
 * A reader's read(): copies of what is ready (`drain`), after waiting for something if nothing
 * is; [] once `timeoutMs` has passed. Woken but given nothing (a record still being written,
 * only discarded ones), it waits again.
 */
export async function readReady<R>(reader: Waitable, drain: () => R[], opts: WaitOptions): Promise<R[]> {
  for (;;) {
    const got = drain();
    if (got.length) return got;
    if (!(await reader.wait(opts))) return drain();
  }
}

/**
 * A reader's batches(): copies of what is ready, batch by batch, as it comes. Ends when the
 * reader is closed; throws the signal's reason when it aborts. Breaking out of the loop leaves
 * the reader open.
 */
export async function* readyBatches<R>(reader: Waitable, drain: () => R[], signal: AbortSignal | undefined): AsyncGenerator<R[], void, undefined> {
  for (;;) {
    if (reader.closed) return;
    signal?.throwIfAborted();
    const got = drain();
    if (got.length) {
      yield got;
      // A consumer that keeps up only with microtasks would starve timers and I/O.
      await nextTurn();
      continue;
    }
    try {
      await reader.wait(signal ? { signal } : {});
    } catch (e) {
      if (reader.closed && !signal?.aborted) return;
      throw e;
    }
  }
}
