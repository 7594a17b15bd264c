// Ownership of file descriptors: the one base under every class that owns an fd (maps,
// programs, links, BTF objects, iterator readers, perf events, netlink sockets).
import { ClosedError } from '../errors.js';
import { SYS } from './abi/bpf.js';
import { closeFd, rawSyscallAsync } from './libc.js';

// A safety net for objects whose fd costs memory, not behaviour (maps, programs, BTF,
// readers, sockets). Links and perf events never register here: a garbage collector must
// not detach a program.
const leakedFds = new FinalizationRegistry<number>((fd) => {
  closeFd(fd);
});

export abstract class FdOwner implements Disposable {
  #fd: number;
  /** Async calls handing the fd to the kernel right now (hold()): a close meanwhile waits. */
  #holds = 0;
  /** The fd a close took out of this object while it was held; the last release closes it. */
  #closeLater: { fd: number; done: () => void } | undefined;

  /**
   * `noun` names the object in messages ('map', 'program', 'link'…). `closeOnGc`: let a
   * FinalizationRegistry close the fd if the owner is dropped without close().
   */
  protected constructor(
    fd: number,
    readonly noun: string,
    closeOnGc: boolean,
  ) {
    this.#fd = fd;
    if (closeOnGc) leakedFds.register(this, fd, this);
  }

  /** The fd; throws ClosedError once closed. */
  get fd(): number {
    if (this.#fd < 0) throw this.closedError();
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** How messages name this object ("hash map 'counts'"); subclasses say more than the noun. */
  describe(): string {
    return this.noun;
  }

  /** The error every method throws once the object is closed: "this hash map 'counts' is closed". */
  protected closedError(): ClosedError {
    return new ClosedError(this.noun, `this ${this.describe()}`);
  }

  /** Closes the fd; closing twice is harmless. */
  close(): void {
    const fd = this.#takeFd();
    if (fd === undefined) return;
    if (this.#holds > 0) this.#closeLater = { fd, done: () => closeFd(fd) };
    else closeFd(fd);
  }

  /**
   * close() with the close(2) itself off the main thread: closing the last fd of a link
   * detaches its program, and for XDP and tcx that waits for an RCU grace period (milliseconds).
   * The object is closed at once (its methods throw ClosedError, the fd is no longer ours);
   * the promise settles when the kernel has let go.
   */
  async closeAsync(): Promise<void> {
    const fd = this.#takeFd();
    if (fd === undefined) return;
    if (this.#holds > 0) {
      await new Promise<void>((resolve) => {
        this.#closeLater = { fd, done: () => void rawSyscallAsync(SYS.close, fd).then(() => resolve()) };
      });
    } else await rawSyscallAsync(SYS.close, fd);
  }

  /**
   * @internal Keeps the fd number valid while an async call hands it to the kernel on another
   * thread (src/syscall/steps.ts): a close meanwhile makes the object closed at once, but the
   * fd is closed only when the last hold is released — never while the kernel may still read
   * it (by then the number could name someone else's object). Returns the release.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0 && this.#closeLater) {
        const { done } = this.#closeLater;
        this.#closeLater = undefined;
        done();
      }
    };
  }

  /** The first close (either form) takes the fd out of the object, which is closed from then
   * on, and runs released(); the caller closes the fd. Later closes get undefined. */
  #takeFd(): number | undefined {
    if (this.#fd < 0) return undefined;
    const fd = this.#fd;
    this.#fd = -1;
    leakedFds.unregister(this);
    this.released();
    return fd;
  }

  /** Runs once, from the first close(), before the fd is closed: drop what hangs off it. */
  protected released(): void {}

  [Symbol.dispose](): void {
    this.close();
  }
}
