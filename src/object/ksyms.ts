// Resolution of `extern ... __ksym` declarations against the running kernel: typed variables
// and kfuncs by their BTF id in vmlinux, typeless variables by address from /proc/kallsyms.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Btf } from '../btf/index.js';
import type { ExternSpec } from '../elf/index.js';

export type KsymResolution =
  /** BTF id of a VAR (typed ksym) or FUNC (kfunc) in the kernel's BTF. */
  | { kind: 'btf'; id: number }
  /** A typeless ksym's address. */
  | { kind: 'address'; address: bigint }
  /** A __weak extern the kernel lacks: loads become 0, kfunc calls stay unresolved. */
  | { kind: 'missing' };

let kallsyms: Map<string, bigint> | undefined;

function kernelSymbolAddress(name: string): bigint | undefined {
  if (!kallsyms) {
    kallsyms = new Map();
    for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
      const [addr, , sym] = line.split(/\s+/, 3);
      if (sym && addr && !kallsyms.has(sym)) kallsyms.set(sym, BigInt(`0x${addr}`));
    }
  }
  return kallsyms.get(name);
}

export function resolveKsym(e: ExternSpec, kernel: Btf): KsymResolution {
  const missing = (what: string): KsymResolution => {
    if (e.weak) return { kind: 'missing' };
    throw new UsageError(`ksym extern '${e.name}': ${what} (declare it __weak to load without it)`);
  };
  if (e.isFunction) {
    const id = kernel.typeByName(e.name, 'func');
    return id === undefined ? missing('the kernel has no kfunc of that name in its BTF') : { kind: 'btf', id };
  }
  if (e.typeId === 0) {
    const address = kernelSymbolAddress(e.name);
    // Unprivileged readers see zeroes in /proc/kallsyms: an address of 0 means "hidden".
    if (address === undefined || address === 0n) return missing('no such symbol in /proc/kallsyms (or addresses are hidden: needs root)');
    return { kind: 'address', address };
  }
  const id = kernel.typeByName(e.name, 'var');
  return id === undefined ? missing('the kernel BTF has no variable of that name') : { kind: 'btf', id };
}
