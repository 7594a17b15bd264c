import { describe, expect, it } from 'vitest';
import { HELPER_NAMES, helperId, helperName } from '../../src/asm/index.js';
import { kernelEnumerators } from '../helpers/kernel-btf-dump.js';

describe('helper table', () => {
  it("matches the running kernel's enum bpf_func_id", () => {
    const enumerators = kernelEnumerators();
    const kernel = new Map<string, number>();
    for (const [name, value] of enumerators) {
      if (name.startsWith('BPF_FUNC_')) kernel.set(name.slice('BPF_FUNC_'.length), Number(value));
    }
    const max = Number(enumerators.get('__BPF_FUNC_MAX_ID'));
    expect(kernel.size).toBe(max);
    // Our table may trail a newer kernel but never disagree with it.
    expect(max).toBeGreaterThanOrEqual(HELPER_NAMES.length);
    HELPER_NAMES.forEach((name, id) => expect(kernel.get(name), name).toBe(id));
  });

  it('maps names (with or without bpf_) and ids both ways', () => {
    expect(helperId('map_lookup_elem')).toBe(1);
    expect(helperId('bpf_ktime_get_ns')).toBe(5);
    expect(helperId('trace_printk')).toBe(6);
    expect(helperId('unspec')).toBeUndefined();
    expect(helperId('nope')).toBeUndefined();
    expect(helperName(1)).toBe('map_lookup_elem');
    expect(helperName(211)).toBe('cgrp_storage_delete');
    expect(helperName(0)).toBeUndefined();
    expect(helperName(HELPER_NAMES.length)).toBeUndefined();
  });
});
