// A deep copy of an ObjectSpec, as cilium/ebpf's CollectionSpec.Copy: what a load may write
// (.kconfig values, map settings) goes into the copy, so one spec loads any number of times,
// each the same way. Shared, not copied: what a load only reads and nobody edits in place —
// instructions and their relocations, variables, externs, the parsed BTF and .BTF.ext.
import type { MapSpec, ObjectSpec, ProgramSpec } from './spec.js';

export function copyMapSpec(m: MapSpec): MapSpec {
  return {
    ...m,
    inner: m.inner ? copyMapSpec(m.inner) : undefined,
    initialSlots: m.initialSlots.map((slot) => ({ ...slot })),
    data: m.data?.slice(),
  };
}

export function copyProgramSpec(p: ProgramSpec): ProgramSpec {
  return { ...p, ...(p.attachTarget ? { attachTarget: { ...p.attachTarget } } : {}) };
}

export function copyObjectSpec(spec: ObjectSpec): ObjectSpec {
  const each = <V>(m: ReadonlyMap<string, V>, copy: (v: V) => V): Map<string, V> => new Map([...m].map(([k, v]) => [k, copy(v)]));
  return {
    ...spec,
    programs: each(spec.programs, copyProgramSpec),
    subprograms: each(spec.subprograms, copyProgramSpec),
    maps: each(spec.maps, copyMapSpec),
    variables: new Map(spec.variables),
    externs: new Map(spec.externs),
  };
}
