// errno numbers by name, from the one errno table, so no number is typed twice.
import { ERRNO_NAMES } from '../errno-names.js';

function errno(name: string): number {
  for (const [n, v] of Object.entries(ERRNO_NAMES)) if (v === name) return Number(n);
  throw new Error(`errno ${name} missing from errno-names.ts`);
}

export const EPERM = errno('EPERM');
export const ENOENT = errno('ENOENT');
export const E2BIG = errno('E2BIG');
export const EBADF = errno('EBADF');
export const EEXIST = errno('EEXIST');
export const EINVAL = errno('EINVAL');
export const ENOSPC = errno('ENOSPC');
export const ENOTSUPP = errno('ENOTSUPP');
export const EOPNOTSUPP = errno('EOPNOTSUPP');
export const EFAULT = errno('EFAULT');
export const ENOTSOCK = errno('ENOTSOCK');
export const EBUSY = errno('EBUSY');
