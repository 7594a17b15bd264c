// tcx's two hooks per interface, as users name them, and their uapi attach types.
import { UsageError } from '../errors.js';
import { bpf_attach_type } from '../syscall/abi/bpf.js';

export type TcxDirection = 'ingress' | 'egress';

export const TCX_ATTACH_TYPE: Readonly<Record<TcxDirection, number>> = {
  ingress: bpf_attach_type.BPF_TCX_INGRESS,
  egress: bpf_attach_type.BPF_TCX_EGRESS,
};

export function checkDirection(direction: string): asserts direction is TcxDirection {
  if (direction !== 'ingress' && direction !== 'egress') {
    throw new UsageError(`tcx direction must be 'ingress' or 'egress'; got ${String(direction)}`);
  }
}

export function checkIfindex(ifindex: number): void {
  if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0xffffffff) {
    throw new UsageError(`ifindex must be a positive integer (see ifindex(name)); got ${ifindex}`);
  }
}
