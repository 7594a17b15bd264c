// Values for `extern ... __kconfig` variables: the running kernel's build configuration
// (/proc/config.gz, else /boot/config-$(uname -r)) plus the few values libbpf synthesizes.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';
import type { ExternSpec } from '../elf/index.js';
import { kernelVersionCode as versionCode } from '../features/kernel.js';

export type KconfigValues = ReadonlyMap<string, string>;

let cached: Map<string, string> | undefined;

/** `CONFIG_X` → its raw value (`y`, `m`, `"str"`, `123`), read once per process. */
export function kernelConfig(): KconfigValues {
  if (cached) return cached;
  const out = new Map<string, string>();
  let text: string | undefined;
  if (existsSync('/proc/config.gz')) text = gunzipSync(readFileSync('/proc/config.gz')).toString();
  else if (existsSync(`/boot/config-${release()}`)) text = readFileSync(`/boot/config-${release()}`, 'utf8');
  for (const line of (text ?? '').split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  // Synthesized as libbpf does: they describe the running kernel, not its configuration.
  out.set('LINUX_KERNEL_VERSION', String(kernelVersionCode()));
  out.set('LINUX_HAS_BPF_COOKIE', 'y');
  out.set('LINUX_HAS_SYSCALL_WRAPPER', 'y');
  cached = out;
  return out;
}

/** KERNEL_VERSION(a, b, c) of the running kernel (or of `rel`), patch level capped at 255. */
export function kernelVersionCode(rel = release()): number {
  return versionCode(rel);
}

/**
 * Writes every kconfig extern's value into the `.kconfig` map's bytes. A missing value is
 * zero for a `__weak` extern and an error otherwise, as with libbpf.
 */
export function fillKconfig(data: Uint8Array, externs: Iterable<ExternSpec>, values: KconfigValues = kernelConfig()): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const e of externs) {
    const k = e.kconfig;
    if (e.kind !== 'kconfig' || !k) continue;
    const raw = values.get(e.name);
    if (raw === undefined) {
      if (!e.weak) throw new UsageError(`kconfig extern '${e.name}' has no value in this kernel's configuration (declare it __weak to default to 0)`);
      continue;
    }
    const bad = (): never => {
      throw new UsageError(`kconfig extern '${e.name}': value ${raw} does not fit its type (${k.type}, ${k.size} bytes)`);
    };
    switch (k.type) {
      case 'bool':
        if (raw !== 'y' && raw !== 'n') bad();
        data[k.offset] = raw === 'y' ? 1 : 0;
        break;
      case 'tristate':
        if (raw !== 'y' && raw !== 'm' && raw !== 'n') bad();
        data[k.offset] = raw === 'y' ? 1 : raw === 'm' ? 2 : 0;
        break;
      case 'char':
        if (raw.length !== 1) bad();
        data[k.offset] = raw.charCodeAt(0);
        break;
      case 'char_array': {
        if (!raw.startsWith('"') || !raw.endsWith('"')) bad();
        const s = Buffer.from(raw.slice(1, -1));
        data.set(s.subarray(0, k.size - 1), k.offset);
        break;
      }
      case 'int': {
        const value = raw === 'y' ? 1n : raw === 'n' ? 0n : /^-?(0x[0-9a-f]+|\d+)$/i.test(raw) ? BigInt(raw) : bad();
        const bits = BigInt(k.size * 8);
        const fits = k.signed ? value >= -(1n << (bits - 1n)) && value < 1n << (bits - 1n) : value >= 0n && value < 1n << bits;
        if (!fits) bad();
        const u = BigInt.asUintN(Number(bits), value);
        for (let i = 0; i < k.size; i++) dv.setUint8(k.offset + i, Number((u >> BigInt(8 * i)) & 0xffn));
        break;
      }
    }
  }
}
