// Ownership of kernel file descriptors. Every kernel object class holds one FdOwner.
import { UsageError } from '../errors.js';
import { closeFd } from './libc.js';

// A safety net for maps and programs only: a leaked map fd costs memory, not behaviour.
// Links never register here — a garbage collector must not detach a program.
const leakedFds = new FinalizationRegistry<number>((fd) => {
  closeFd(fd);
});

export class FdOwner {
  #fd: number;

  /** `closeOnGc`: let a FinalizationRegistry close the fd if the owner is never closed. */
  constructor(
    fd: number,
    readonly kind: string,
    closeOnGc = false,
  ) {
    this.#fd = fd;
    if (closeOnGc) leakedFds.register(this, fd, this);
  }

  get fd(): number {
    if (this.#fd < 0) throw new UsageError(`this ${this.kind} is closed`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the fd; closing twice is harmless. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    leakedFds.unregister(this);
    closeFd(fd);
  }
}
