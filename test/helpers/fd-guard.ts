// Asserts that a suite gives back every file descriptor it opened.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Call at the top of a describe() (or file) that opens kernel objects. */
export function guardFdLeaks(): void {
  let before = 0;
  beforeAll(() => {
    before = openFdCount();
  });
  afterAll(() => {
    expect(openFdCount(), 'file descriptors leaked by this suite').toBe(before);
  });
}

export const isRoot = process.getuid?.() === 0;
