// Waiting for kernel notifications (ring and perf buffers becoming readable) without blocking
// the event loop: an epoll set, and a thread that sleeps in epoll_wait(2) for the main thread.
//
// Why a worker_thread and not koffi's asynchronous calls (`fn.async`): both were measured on
// this machine (2 cores, loaded by other work; an eventfd written on the main thread, woken
// epoll_wait, callback on the main thread; 2000 wake-ups a run). koffi 2.16.3, three runs:
// p50 18–27 µs for koffi async, 20–27 µs for a worker posting a message; koffi 3.3.4, two
// runs: 21–30 µs vs 27–29 µs. p99 is the machine's noise for both (0.1–5.8 ms); idle CPU
// over 3 s 0.6–1.5 ms for both. Equal on speed, the worker wins on behaviour: a koffi async
// call occupies one of libuv's four pool threads for as long as it waits (starving fs, dns
// and crypto work, one thread per waiting reader), and it keeps the process alive with no
// way to unref it. A worker is one thread per epoll set, however many rings or CPUs it
// watches, and can be unref'd.
//
// Protocol (a SharedArrayBuffer `ctl`): the main thread arms the worker (ctl[ARMED] = 1 and
// notify) when it wants to be told about readiness; the worker then epoll_waits, disarms and
// posts the ready tokens, and parks in Atomics.wait until armed again. Level-triggered epoll
// would report a ring that still holds data over and over: arming only after the reader has
// drained keeps the worker asleep meanwhile.
//
// Stopping: the main thread writes the eventfd that sits in the epoll set (waking an
// epoll_wait in progress), then sets ctl[STOP] and arms (waking a parked worker). The worker
// closes the epoll fd and the eventfd itself, after its last epoll_wait: closing them from
// the main thread could let their numbers be reused while the worker still uses them. The
// write comes before STOP, so the eventfd is still open when it is written. The worker looks
// at STOP after each wake-up and again after it disarms: a stop that lands between the two
// arms before the disarm undoes it, and only the second look sees it (else it parks for good).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BpfError } from '../errors.js';
import { SYS } from './abi/bpf.js';
import {
  EFD_CLOEXEC,
  EPOLLIN,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_EVENT_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
} from './abi/epoll.js';
import { addressOf, closeFd, kernelFd, rawSyscall, stableBuffer } from './libc.js';

const ARMED = 0;
const STOP = 1;
/** Set by the worker once it has closed the epoll fd and the eventfd. */
const CLOSED = 2;
/** Set by the worker when it has started: from then on it answers a stop in microseconds. */
const STARTED = 3;
/** Never written: the worker sleeps on it for `pauseAfterWakeMs` (tests widen a race window). */
const PAUSE = 4;

const EINTR = 4;
/** How long close() blocks for a started worker to close its fds, at most. */
const CLOSE_WAIT_MS = 250;

// CommonJS, evaluated as the worker's whole program: no TypeScript loader is needed in the
// thread (tests run from sources), and it loads the same koffi as the main thread.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const { ep, efd, max, nr } = workerData;
const ctl = new Int32Array(workerData.ctl);
const syscall = koffi.load('libc.so.6').func('intptr_t syscall(intptr_t nr, intptr_t a, intptr_t b, intptr_t c, intptr_t d, intptr_t e, intptr_t f)');
const events = Buffer.allocUnsafeSlow(max * ${EPOLL_EVENT_SIZE});
const addr = Number(koffi.address(events));
Atomics.store(ctl, ${STARTED}, 1);
for (;;) {
  Atomics.wait(ctl, ${ARMED}, 0);
  if (Atomics.load(ctl, ${STOP})) break;
  const r = syscall(nr.epoll_wait, ep, addr, max, -1, 0, 0);
  const errno = r < 0 ? koffi.errno() : 0;
  if (Atomics.load(ctl, ${STOP})) break;
  if (workerData.pauseAfterWakeMs) Atomics.wait(ctl, ${PAUSE}, 0, workerData.pauseAfterWakeMs);
  if (errno === ${EINTR}) continue;
  const tokens = [];
  for (let i = 0; i < r; i++) tokens.push(events.readUInt32LE(i * ${EPOLL_EVENT_SIZE} + ${EPOLL_EVENT_DATA_OFFSET}));
  Atomics.store(ctl, ${ARMED}, 0);
  // A stop that came after the check above armed before this disarm, and the disarm undid
  // it: parking now would be for good. Looked at after the disarm, a stop is always seen.
  if (Atomics.load(ctl, ${STOP})) break;
  parentPort.postMessage(errno ? { errno } : { tokens });
}
syscall(nr.close, ep, 0, 0, 0, 0, 0);
syscall(nr.close, efd, 0, 0, 0, 0, 0);
Atomics.store(ctl, ${CLOSED}, 1);
Atomics.notify(ctl, ${CLOSED});
`;

const koffiPath = createRequire(import.meta.url).resolve('koffi');

// When Node exits it terminates its workers and joins their threads, and terminating cannot
// interrupt a thread inside epoll_wait: a process whose reader was not closed would hang at
// exit. So every live waiter is stopped from the 'exit' event, which runs first.
const live = new Set<EpollWaiter>();
let exitHooked = false;
function stopAllAtExit(): void {
  // A pending wait is left pending, not rejected: nothing can run after 'exit' anyway, and
  // a rejection nobody handles would turn a clean exit into a failure.
  for (const w of [...live]) w.close(LEAVE_PENDING);
}
const LEAVE_PENDING = Symbol('leave pending');

// Threads that have not finished exiting. A thread's own event loop holds a few fds of its
// own (epoll, eventfd) until it has fully ended, a moment after close() returns: fd-leak
// checks await waitersExited().
const exiting = new Set<Promise<void>>();

/** Resolves with true once every waiting thread started so far has ended (all must have
 * been closed), false if some is still running after `timeoutMs`. */
export async function waitersExited(timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (exiting.size) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all([...exiting]), new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
  return true;
}

function fail(errno: number, command: string, context: string): never {
  throw new BpfError({ errno, command, context });
}

/** epoll_create1(EPOLL_CLOEXEC): the fd, or throws. */
export function epollCreate(context: string): number {
  const r = rawSyscall(SYS.epoll_create1, EPOLL_CLOEXEC);
  if (r < 0) fail(-r, 'epoll_create1', context);
  const fd = kernelFd(r);
  if (fd < 0) fail(-fd, 'fcntl', context);
  return fd;
}

/** Watches `fd` for readability; epoll_wait reports it as `token`. Returns 0 or -errno. */
export function epollAdd(ep: number, fd: number, token: number): number {
  const ev = stableBuffer(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(EPOLLIN, 0);
  ev.writeUInt32LE(token >>> 0, EPOLL_EVENT_DATA_OFFSET);
  return rawSyscall(SYS.epoll_ctl, ep, EPOLL_CTL_ADD, fd, addressOf(ev), 0, 0, ev);
}

/** Stops watching `fd`. Returns 0 or -errno. */
export function epollDel(ep: number, fd: number): number {
  // Linux before 2.6.9 wanted a non-null event here; a real one costs nothing.
  const ev = stableBuffer(EPOLL_EVENT_SIZE);
  return rawSyscall(SYS.epoll_ctl, ep, EPOLL_CTL_DEL, fd, addressOf(ev), 0, 0, ev);
}

/**
 * An epoll set watched by a worker thread on behalf of the main thread. `wait()` resolves
 * with the tokens of the fds that became readable. One wait at a time.
 *
 * Process lifetime: the thread keeps the process alive only while a wait() is pending (like a
 * socket being read); otherwise it is unref'd, so a program whose reader is idle, stopped or
 * forgotten can exit. `close()` ends the thread, which then closes both fds (`exited` says when).
 */
export class EpollWaiter {
  readonly #ep: number;
  readonly #efd: number;
  readonly #ctl = new Int32Array(new SharedArrayBuffer(20));
  #worker: Worker | undefined;
  #pending: { resolve(tokens: number[]): void; reject(e: unknown): void } | undefined;
  /** Readiness the worker reported while nobody waited: handed to the next wait(). */
  #early: number[] | undefined;
  #error: unknown;
  #closed = false;
  #exited: Promise<void> | undefined;
  readonly #context: string;
  readonly #keepAlive: boolean;

  readonly #pauseAfterWakeMs: number;

  /** `pauseAfterWakeMs` is for tests only: the thread sleeps that long after each wake-up,
   * before it disarms, which makes the window a stop must not fall into wide enough to hit. */
  constructor(context: string, opts: { keepAlive?: boolean; pauseAfterWakeMs?: number } = {}) {
    this.#context = context;
    this.#keepAlive = opts.keepAlive ?? true;
    this.#pauseAfterWakeMs = opts.pauseAfterWakeMs ?? 0;
    this.#ep = epollCreate(context);
    const efd = rawSyscall(SYS.eventfd2, 0, EFD_CLOEXEC);
    if (efd < 0) {
      closeFd(this.#ep);
      fail(-efd, 'eventfd2', context);
    }
    this.#efd = kernelFd(efd);
    const r = epollAdd(this.#ep, this.#efd, 0xffffffff);
    if (r < 0) {
      closeFd(this.#ep);
      closeFd(this.#efd);
      fail(-r, 'epoll_ctl', context);
    }
  }

  /** Adds an fd to the set. */
  add(fd: number, token: number): void {
    if (this.#closed) throw new BpfError({ errno: 9, command: 'epoll_ctl', context: this.#context });
    const r = epollAdd(this.#ep, fd, token);
    if (r < 0) fail(-r, 'epoll_ctl', `${this.#context}: adding fd ${fd}`);
  }

  /** Removes an fd from the set (needed only while the fd stays open: closing it removes it). */
  remove(fd: number): void {
    if (this.#closed) return;
    epollDel(this.#ep, fd);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves with the tokens of the ready fds (never empty), or rejects once closed. */
  wait(): Promise<number[]> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#pending) return Promise.reject(new BpfError({ errno: 16, command: 'epoll_wait', context: `${this.#context}: a wait is already pending` }));
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#early) {
      const t = this.#early;
      this.#early = undefined;
      return Promise.resolve(t);
    }
    const w = this.#start();
    if (this.#keepAlive) w.ref();
    const p = new Promise<number[]>((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
    if (Atomics.load(this.#ctl, ARMED) === 0) {
      Atomics.store(this.#ctl, ARMED, 1);
      Atomics.notify(this.#ctl, ARMED);
    }
    return p;
  }

  /** Gives up the pending wait (it rejects with `reason`); the worker stays armed, and what it
   * reports later goes to the next wait(). */
  cancel(reason: unknown): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    this.#worker?.unref();
    p.reject(reason);
  }

  /** Ends the thread; a pending wait rejects with `reason` (default: an EBADF BpfError
   * saying the waiter is closed). Returns once a started thread has closed the fds
   * (microseconds; CLOSE_WAIT_MS at most); a thread still starting closes them when it gets
   * going. `exited` says when it ended. */
  close(reason?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    live.delete(this);
    const w = this.#worker;
    if (w === undefined) {
      closeFd(this.#ep);
      closeFd(this.#efd);
      this.#exited = Promise.resolve();
    } else {
      // Wake an epoll_wait in progress first (see the protocol above), then a parked worker.
      const one = stableBuffer(8);
      one.writeBigUInt64LE(1n);
      rawSyscall(SYS.write, this.#efd, addressOf(one), 8, 0, 0, 0, one);
      Atomics.store(this.#ctl, STOP, 1);
      Atomics.store(this.#ctl, ARMED, 1);
      Atomics.notify(this.#ctl, ARMED);
      // Exiting must not be held up by a thread that is only finishing.
      w.unref();
      // Wait for the worker to close the fds, so that close() leaves no fd open behind it (a
      // test's fd count, `using`). A started worker answers within microseconds from
      // epoll_wait or its park. One still starting up (tens of ms here, seconds in an
      // emulated guest) is not waited for: it sees STOP first thing and closes the fds then
      // (`exited`, waitersExited()); blocking the event loop that long would be worse.
      if (Atomics.load(this.#ctl, STARTED) === 1) Atomics.wait(this.#ctl, CLOSED, 0, CLOSE_WAIT_MS);
    }
    const p = this.#pending;
    this.#pending = undefined;
    if (reason !== LEAVE_PENDING) p?.reject(reason ?? this.#closedError());
  }

  /** Resolves when the thread has ended and the epoll fd and eventfd are closed. */
  get exited(): Promise<void> {
    return this.#exited ?? Promise.resolve();
  }

  #closedError(): Error {
    return new BpfError({ errno: 9, command: 'epoll_wait', context: `${this.#context} is closed` }, `${this.#context} is closed`);
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      // The parent's flags (--input-type=module would make the source an ES module, --import
      // hooks would load a TypeScript toolchain) are not for this thread.
      execArgv: [],
      workerData: { koffi: koffiPath, ep: this.#ep, efd: this.#efd, max: 64, ctl: this.#ctl.buffer, pauseAfterWakeMs: this.#pauseAfterWakeMs, nr: { epoll_wait: SYS.epoll_wait, close: SYS.close } },
      // The thread needs little: a koffi binding and a 768-byte buffer.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
      stdout: false,
      stderr: false,
    });
    live.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', stopAllAtExit);
    }
    w.on('message', (m: { tokens?: number[]; errno?: number }) => {
      if (m.errno !== undefined) {
        const e = new BpfError({ errno: m.errno, command: 'epoll_wait', context: this.#context });
        if (this.#pending) this.#settle(undefined, e);
        else this.#error = e;
        return;
      }
      if (this.#pending) this.#settle(m.tokens!);
      else this.#early = m.tokens!;
    });
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    this.#exited = exited;
    exiting.add(exited);
    void exited.then(() => exiting.delete(exited));
    w.on('error', (e) => {
      this.#error = e;
      if (this.#pending) this.#settle(undefined, e);
    });
    w.on('exit', () => {
      // A thread that died before its own cleanup (it could not load koffi, say) leaves the
      // fds to us; then nobody else can be using them any more.
      if (Atomics.load(this.#ctl, CLOSED) === 0) {
        closeFd(this.#ep);
        closeFd(this.#efd);
        Atomics.store(this.#ctl, CLOSED, 1);
      }
      live.delete(this);
      if (!this.#closed) {
        this.#closed = true;
        this.#error ??= new BpfError({ errno: 9, command: 'epoll_wait', context: `${this.#context}: the waiting thread ended` });
        if (this.#pending) this.#settle(undefined, this.#error);
      }
      resolveExit();
    });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    w.unref();
    this.#worker = w;
    return w;
  }

  #settle(tokens: number[] | undefined, error?: unknown): void {
    const p = this.#pending!;
    this.#pending = undefined;
    this.#worker?.unref();
    if (error !== undefined) p.reject(error);
    else p.resolve(tokens!);
  }
}
