// tsbpf's own dispatcher program (bpf/xdp-dispatcher.c, built into bpf/xdp-dispatcher.o and
// shipped in the package), loaded with a configuration. The object sits three directories
// above this module both in the source tree (src/xdp/multi/) and in the build (dist/xdp/multi/),
// so one relative URL finds it under tsx and from the published package alike.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors.js';
import { BpfObject } from '../../object/index.js';
import type { BpfProgram } from '../../programs/index.js';
import { BPF_F_XDP_HAS_FRAGS } from '../../syscall/abi/bpf.js';
import { DISPATCHER_PROGRAM, type DispatcherConfig, encodeConfig } from './protocol.js';

/** Where the dispatcher object is. */
export function dispatcherObjectPath(): string {
  return fileURLToPath(new URL('../../../bpf/xdp-dispatcher.o', import.meta.url));
}

export interface LoadedDispatcher {
  object: BpfObject;
  prog: BpfProgram;
  close(): void;
}

/**
 * Loads a dispatcher whose `.rodata` says `config` (frozen at load, so the verifier drops the
 * unused slots), with BPF_F_XDP_HAS_FRAGS when `config.isXdpFrags` says so.
 */
export function loadDispatcher(config: DispatcherConfig): LoadedDispatcher {
  const path = dispatcherObjectPath();
  if (!existsSync(path))
    throw new UsageError(`the XDP dispatcher object is missing at ${path} (a checkout builds it with scripts/build-bpf.sh bpf; a package ships it)`);
  const object = BpfObject.open(path);
  try {
    object.setConstant('conf', encodeConfig(config));
    const spec = object.programSpec(DISPATCHER_PROGRAM);
    spec.flags = config.isXdpFrags ? spec.flags | BPF_F_XDP_HAS_FRAGS : spec.flags & ~BPF_F_XDP_HAS_FRAGS;
    object.load({ programs: [DISPATCHER_PROGRAM] });
    const prog = object.program(DISPATCHER_PROGRAM);
    return { object, prog, close: () => object.close() };
  } catch (e) {
    object.close();
    throw e;
  }
}
