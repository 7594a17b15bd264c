// "Does this kernel have X?" — one answer per feature and process, probed on first ask and
// cached. See README.md in this folder for the queries and what each probe does.
import { BpfError, NotSupportedError, UsageError } from '../errors.js';
import type { MapType, ProgramType } from '../syscall/abi/names.js';
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES } from '../syscall/abi/names.js';
import { answerError, type FeatureAnswer, type FeatureStatus, type Outcome } from './answer.js';
import {
  BTF_FEATURES,
  MAP_TYPE_ALTERNATIVE,
  MAP_TYPE_SINCE,
  NAMED_FEATURES,
  PROGRAM_TYPE_SINCE,
  type BtfFeature,
  type FeatureInfo,
  type NamedFeature,
} from './catalog.js';
import { kernelRelease } from './kernel.js';
import { helperId, probeBtf, probeHelper, probeKfunc, probeMapType, probeNamed, probeProgramType } from './probes.js';

export type { FeatureAnswer, FeatureStatus, FeatureInfo, NamedFeature, BtfFeature };
export { kernelAtLeast, kernelRelease } from './kernel.js';

/**
 * What can be asked: a named feature ('tcx', 'arena', 'trampoline'…), or a qualified one —
 * `prog:<type>`, `map:<type>`, `helper:<prog type>:<helper>`, `kfunc:<name>`, `btf:<kind>`.
 */
export type FeatureQuery =
  | NamedFeature
  | `prog:${ProgramType}`
  | `map:${MapType}`
  | `helper:${ProgramType}:${string}`
  | `kfunc:${string}`
  | `btf:${BtfFeature}`;

interface Resolved extends FeatureInfo {
  probe: () => Outcome;
}

function programTypeOf(name: string, query: string): ProgramType {
  const n = name === 'tc' ? 'sched_cls' : name;
  if (!PROG_TYPE_NAMES.byName.has(n) || n === 'unspec')
    throw new UsageError(`${query}: unknown program type '${name}'; known: ${[...PROG_TYPE_NAMES.byName.keys()].filter((k) => k !== 'unspec').join(', ')}`);
  return n as ProgramType;
}

/** Turns a query into what it asks about and how to probe it; throws UsageError on nonsense. */
function resolve(query: string): Resolved {
  if (typeof query !== 'string') throw new UsageError(`a feature query is a string such as 'tcx' or 'map:arena', got ${typeof query}`);
  if (Object.hasOwn(NAMED_FEATURES, query)) {
    const name = query as NamedFeature;
    return { id: name, ...NAMED_FEATURES[name], probe: () => probeNamed(name) };
  }
  const colon = query.indexOf(':');
  const ns = colon < 0 ? '' : query.slice(0, colon);
  const rest = query.slice(colon + 1);
  switch (ns) {
    case 'prog': {
      const t = programTypeOf(rest, query);
      return { id: `prog:${t}`, title: `${t} programs`, minKernel: PROGRAM_TYPE_SINCE[t], probe: () => probeProgramType(t) };
    }
    case 'map': {
      if (!MAP_TYPE_NAMES.byName.has(rest) || rest === 'unspec' || rest.endsWith('_deprecated'))
        throw new UsageError(`${query}: unknown map type '${rest}'`);
      const t = rest as MapType;
      const alternative = MAP_TYPE_ALTERNATIVE[t];
      return {
        id: `map:${t}`,
        title: `${t} maps`,
        minKernel: MAP_TYPE_SINCE[t],
        ...(alternative ? { alternative } : {}),
        probe: () => probeMapType(t),
      };
    }
    case 'helper': {
      const at = rest.indexOf(':');
      if (at < 0) throw new UsageError(`${query}: write helper:<program type>:<helper>, e.g. 'helper:xdp:bpf_xdp_adjust_tail'`);
      const t = programTypeOf(rest.slice(0, at), query);
      const raw = rest.slice(at + 1);
      const id = helperId(raw);
      if (id === undefined) throw new UsageError(`${query}: no helper named '${raw}' in this build's bpf_func_id`);
      if (t === 'ext' || t === 'struct_ops')
        throw new UsageError(`${query}: helper probes are not available for ${t} programs: they need a target program or struct to load at all`);
      const name = raw.startsWith('bpf_') ? raw : `bpf_${raw}`;
      const prog = PROGRAM_TYPE_SINCE[t];
      return {
        id: `helper:${t}:${name}`,
        title: `calls to ${name} from ${t} programs`,
        probe: () => {
          // The helper question only makes sense once the program type loads.
          const type = cachedProbe(`prog:${t}`);
          if (type.status !== 'present')
            return { status: type.status, errno: type.errno, command: type.command, detail: `${t} programs (Linux ${prog}) are not available: ${type.detail}` };
          return probeHelper(t, id);
        },
      };
    }
    case 'kfunc': {
      if (!/^\w+$/.test(rest)) throw new UsageError(`${query}: a kfunc name is a C identifier`);
      return { id: query, title: `calls to the kfunc ${rest}`, probe: () => probeKfunc(rest) };
    }
    case 'btf': {
      if (!Object.hasOwn(BTF_FEATURES, rest))
        throw new UsageError(`${query}: unknown BTF feature '${rest}'; known: ${Object.keys(BTF_FEATURES).join(', ')}`);
      const k = rest as BtfFeature;
      return { id: query, ...BTF_FEATURES[k], probe: () => probeBtf(k) };
    }
    default:
      throw new UsageError(
        `unknown feature '${query}'; named features: ${Object.keys(NAMED_FEATURES).join(', ')}; or prog:<type>, map:<type>, helper:<prog type>:<helper>, kfunc:<name>, btf:<kind>`,
      );
  }
}

const cache = new Map<string, FeatureAnswer>();

function cachedProbe(query: string): FeatureAnswer {
  const hit = cache.get(query);
  if (hit) return hit;
  const r = resolve(query);
  const known = cache.get(r.id);
  if (known) {
    cache.set(query, known);
    return known;
  }
  const { probe, ...info } = r;
  const answer: FeatureAnswer = Object.freeze({ ...info, ...probe(), kernel: kernelRelease() });
  if (!answer.transient) {
    cache.set(r.id, answer);
    cache.set(query, answer);
  }
  return answer;
}

function info(query: FeatureQuery): FeatureInfo {
  const { probe: _probe, ...i } = resolve(query);
  return i;
}

/**
 * Feature probes. `probe()` gives the three-way answer (present, absent, refused) with its
 * evidence; `has()` is true only when present; `check()` throws NotSupportedError when the
 * kernel lacks the feature and a BpfError carrying the errno when this machine refuses it.
 */
export const features = {
  /** The answer for a feature, probed once per process (the same frozen object afterwards). */
  probe(query: FeatureQuery): FeatureAnswer {
    return cachedProbe(query);
  },
  /** True when the kernel has the feature and this process may use it. */
  has(query: FeatureQuery): boolean {
    return cachedProbe(query).status === 'present';
  },
  /** Throws NotSupportedError (absent: needs Linux X) or BpfError (refused here); else returns. */
  check(query: FeatureQuery): void {
    const e = answerError(cachedProbe(query));
    if (e) throw e;
  },
  /** The error `check()` would throw, or undefined. */
  error(query: FeatureQuery): NotSupportedError | BpfError | undefined {
    return answerError(cachedProbe(query));
  },
  /** Program type by its uapi name ('xdp', 'lsm', alias 'tc'). */
  programType(type: ProgramType | 'tc'): FeatureAnswer {
    return cachedProbe(`prog:${type}`);
  },
  mapType(type: MapType): FeatureAnswer {
    return cachedProbe(`map:${type}`);
  },
  /** Whether programs of `type` may call a helper ('bpf_xdp_adjust_tail' or 'xdp_adjust_tail'). */
  helper(type: ProgramType | 'tc', helper: string): FeatureAnswer {
    return cachedProbe(`helper:${type}:${helper}`);
  },
  /** A kernel function of this name in the kernel's BTF. */
  kfunc(name: string): FeatureAnswer {
    return cachedProbe(`kfunc:${name}`);
  },
  btfKind(kind: BtfFeature): FeatureAnswer {
    return cachedProbe(`btf:${kind}`);
  },
  /** Name, version and alternative of a feature, without probing. */
  info,
  /** The named features, without probing. */
  list(): FeatureInfo[] {
    return Object.entries(NAMED_FEATURES).map(([id, f]) => ({ id, ...f }));
  },
  /** The running kernel's release. */
  get kernel(): string {
    return kernelRelease();
  },
};
