// The kernel stamps objects with boot-relative nanoseconds (CLOCK_BOOTTIME); users want a Date.
import { readFileSync } from 'node:fs';

/** Wall-clock milliseconds at boot, from /proc/uptime (CLOCK_BOOTTIME, 10 ms resolution). */
export function bootTimeMs(): number {
  const uptime = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
  return Date.now() - uptime * 1000;
}

/** A boot-relative timestamp in nanoseconds as a Date. */
export function dateFromBootNs(ns: number | bigint): Date {
  return new Date(bootTimeMs() + Number(ns) / 1e6);
}
