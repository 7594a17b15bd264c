// errno numbers by name, from the one errno table, so no number is typed twice.
import { ERRNO } from '../errno-names.js';

export const { EPERM, ENOENT, E2BIG, EBADF, EEXIST, EINVAL, ENOSPC, ENOTSUPP, EOPNOTSUPP, EFAULT, ENOTSOCK, EBUSY } = ERRNO;
