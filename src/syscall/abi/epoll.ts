// epoll(7) and eventfd(2) as the event readers use them (include/uapi/linux/eventpoll.h,
// linux/eventfd.h); test/syscall/abi.test.ts checks them against those headers and the kernel BTF.

/** epoll_create1 / eventfd2 flag: O_CLOEXEC. */
export const EPOLL_CLOEXEC = 0o2000000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;

export const EPOLLIN = 0x001;

/** struct epoll_event is packed on x86_64: { u32 events; u64 data } in 12 bytes. */
export const EPOLL_EVENT_SIZE = 12;
export const EPOLL_EVENT_DATA_OFFSET = 4;
