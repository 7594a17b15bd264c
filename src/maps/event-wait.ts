// Waiting for ring and perf buffers to become readable, for the async forms of their readers:
// an EpollWaiter (a thread sleeping in epoll_wait) raced against an AbortSignal and a timeout.
import { ClosedError, UsageError } from '../errors.js';
import type { EpollWaiter } from '../syscall/epoll.js';

export interface WaitOptions {
  /** Stop waiting: the wait rejects with `signal.reason` (an AbortError by default). */
  signal?: AbortSignal;
  /** Give up after this long: the wait resolves with false (default: wait forever). */
  timeoutMs?: number;
}

const TIMED_OUT = Symbol('timed out');

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
