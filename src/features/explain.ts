// For the library's own error paths: after a real call failed with an errno that *could* mean
// "this kernel lacks it", probe (once per process) and say so with NotSupportedError. No probe
// runs before a call, and none runs for errnos that cannot mean a missing feature.
import { ERRNO } from '../errno-names.js';
import { NotSupportedError } from '../errors.js';
import { BPF_F_XDP_HAS_FRAGS } from '../syscall/abi/bpf.js';
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES, type MapType, type ProgramType } from '../syscall/abi/names.js';
import { ABSENT_ERRNOS, type FeatureAnswer } from './answer.js';
import { features } from './index.js';

function notSupported(a: FeatureAnswer, errno: number): NotSupportedError | undefined {
  return a.status === 'absent' ? new NotSupportedError(a.title, a.minKernel, a.alternative, errno, a.kernel) : undefined;
}

/** BPF_MAP_CREATE of `type` failed with `errno`: NotSupportedError if the kernel lacks the type. */
export function mapCreateNotSupported(type: MapType, errno: number): NotSupportedError | undefined {
  if (!ABSENT_ERRNOS.includes(errno) || !MAP_TYPE_NAMES.byName.has(type)) return undefined;
  return notSupported(features.mapType(type), errno);
}

/**
 * BPF_PROG_LOAD failed with `errno` and no verifier log (the verifier never saw the program):
 * NotSupportedError if the kernel lacks the program type, or the XDP frags flag asked for.
 */
export function progLoadNotSupported(type: ProgramType, flags: number, errno: number): NotSupportedError | undefined {
  if (!ABSENT_ERRNOS.includes(errno) || !PROG_TYPE_NAMES.byName.has(type)) return undefined;
  const byType = notSupported(features.programType(type), errno);
  if (byType) return byType;
  if (type === 'xdp' && flags & BPF_F_XDP_HAS_FRAGS && errno === ERRNO.EINVAL) return notSupported(features.probe('xdp_frags'), errno);
  return undefined;
}
