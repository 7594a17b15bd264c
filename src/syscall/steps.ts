// Work whose slow syscalls may run in place or off the main thread, written once. A task that
// can wait on the kernel for long (BPF_PROG_LOAD running the verifier, an attach or detach
// waiting for an RCU grace period) is a generator that yields each such call as a SlowCall
// and receives its result (or -errno). `runSteps` makes the calls in place; `runStepsAsync`
// makes them on koffi's worker pool. Everything else — validation, the decisions taken on
// each result, the errors thrown — is the same code for both, so the sync and async forms
// cannot drift apart.
import type { Attr } from './attr.js';
import { FdOwner } from './fd.js';
import { bpfRaw, bpfRawAsync, rawSyscall, rawSyscallAsync } from './libc.js';

/** One syscall a task waits on: bpf(2) on an Attr, or any syscall with up to six integer
 * arguments and the object owning the memory they point at. */
export type SlowCall =
  | { readonly bpf: number; readonly attr: Attr<string> }
  | { readonly bpf?: undefined; readonly nr: number; readonly args: readonly number[]; readonly keep: object | undefined };

/** A task: yields slow calls, is resumed with each one's result or -errno, returns T. */
export type Steps<T> = Generator<SlowCall, T, number>;

/** A bpf(2) command as a step (`yield bpfStep(cmd, attr)` gives the result or -errno). */
export function bpfStep(cmd: number, attr: Attr<string>): SlowCall {
  return { bpf: cmd, attr };
}

/** Any syscall as a step; `keep` owns the memory the arguments point at. */
export function syscallStep(nr: number, args: readonly number[], keep?: object): SlowCall {
  return { nr, args, keep };
}

function callNow(c: SlowCall): number {
  if (c.bpf !== undefined) return bpfRaw(c.bpf, c.attr.address, c.attr.size, c.attr);
  const a = c.args;
  return rawSyscall(c.nr, a[0], a[1], a[2], a[3], a[4], a[5], c.keep);
}

function callAsync(c: SlowCall): Promise<number> {
  if (c.bpf !== undefined) return bpfRawAsync(c.bpf, c.attr.address, c.attr.size, c.attr);
  const a = c.args;
  return rawSyscallAsync(c.nr, a[0], a[1], a[2], a[3], a[4], a[5], c.keep);
}

/** Runs a task on this thread. */
export function runSteps<T>(task: Steps<T>): T {
  let s = task.next();
  while (!s.done) s = task.next(callNow(s.value));
  return s.value;
}

/**
 * Runs a task with its slow calls on koffi's worker pool: the event loop keeps running while
 * the kernel works; `uses` are the objects whose fds it hands the kernel. If a call cannot
 * even be queued, the error is thrown into the task, so its own cleanup (finally, catch) runs
 * as it would for any failure.
 */
export async function runStepsAsync<T>(task: Steps<T>, uses: readonly unknown[] = []): Promise<T> {
  // The fd owners among `uses` (the program being attached, a relative link…) keep their fds
  // open until the task is done, even if closed meanwhile (FdOwner.hold).
  const releases: (() => void)[] = [];
  for (const u of uses) if (u instanceof FdOwner && !u.closed) releases.push(u.hold());
  try {
    return await runTask(task);
  } finally {
    for (const r of releases) r();
  }
}

async function runTask<T>(task: Steps<T>): Promise<T> {
  let s = task.next();
  while (!s.done) {
    let r: number;
    try {
      r = await callAsync(s.value);
    } catch (e) {
      s = task.throw(e);
      continue;
    }
    s = task.next(r);
  }
  return s.value;
}
