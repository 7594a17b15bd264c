// The waiting thread behind ring and perf buffer readers (src/syscall/epoll.ts) ends whenever
// it is stopped, including a stop that lands while it is between a wake-up and parking again.
// That window is a few instructions wide; a test-only pause after each wake-up widens it so
// that the stop falls into it every time. (Before the fix, the thread's disarm undid the
// stop's arm and it parked for good: found as a reader's thread that never ended in a guest.)
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EFD_CLOEXEC } from '../../src/syscall/abi/epoll.js';
import { EpollWaiter, waitersExited } from '../../src/syscall/epoll.js';
import { SYS, closeFd, rawSyscall } from '../../src/syscall/index.js';

describe('epoll waiting thread', () => {
  it('a stop that lands between a wake-up and the thread parking again still ends the thread', async () => {
    // An eventfd with a count of 1 is readable until read: every epoll_wait returns at once.
    const efd = rawSyscall(SYS.eventfd2, 1, EFD_CLOEXEC);
    expect(efd).toBeGreaterThan(0);
    const w = new EpollWaiter('test waiter', { pauseAfterWakeMs: 400 });
    try {
      w.add(efd, 7);
      // The thread starts, wakes, pauses, disarms and reports.
      expect(await w.wait()).toEqual([7]);
      // Armed again: it wakes at once and pauses before disarming; the stop comes meanwhile.
      const pending = w.wait();
      await sleep(100);
      w.close();
      await expect(pending).rejects.toThrow(/test waiter is closed/);
      expect(await waitersExited(10_000)).toBe(true);
    } finally {
      w.close();
      closeFd(efd);
    }
  });
});
