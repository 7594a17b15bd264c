// Where an attach verb's program comes from: an object file to load (FILE, with --program
// NAME when it has several programs of the right type), a pinned program (PIN), or a loaded
// program's id. Also interface names and the `--pin` rule for link-based attachments.
import { BpfObject, BpfProgram, ifindex, ifname } from '../../index.js';
import { BpfError } from '../../errors.js';
import { type ParsedArgs } from '../args.js';
import { str, strs } from '../command.js';
import { CliUsageError, NotFoundError } from '../errors.js';
import { isElfFile, openProgram, parseRef, parseSetting, settingValue } from '../refs.js';

export interface ProgramSource {
  prog: BpfProgram;
  /** The object it was loaded from (closed with the program). */
  obj?: BpfObject;
  /** 'file' | 'pin' | 'id' */
  from: string;
  close(): void;
}

export const SOURCE_OPTIONS = { program: { value: true }, 'pin-root': { value: true }, set: { value: true, repeat: true } } as const;

export const SOURCE_HELP = [
  'FILE|PIN|ID: an object file to load (--program NAME picks the program when it has more',
  'than one of the right type; --pin-root DIR is where its LIBBPF_PIN_BY_NAME maps go,',
  'default /sys/fs/bpf; --set NAME=VALUE sets a global before load, as in obj load), a',
  'program pinned on bpffs, or a loaded program\'s id.',
].join('\n');

/** `--set NAME=VALUE` settings, applied to an opened object before load (obj load and the
 * attach verbs). VALUE: an integer, true/false, str:TEXT or hex:BYTES. */
export function applySettings(obj: BpfObject, settings: readonly string[], file: string): void {
  for (const s of settings) {
    const { name, raw } = parseSetting(s);
    const v = obj.spec.variables.get(name);
    if (!v) throw new NotFoundError(`--set ${name}: no global variable '${name}' in ${file}; variables: ${[...obj.spec.variables.keys()].join(', ') || 'none'}`);
    const value = settingValue(name, raw, v.size);
    if (v.constant) obj.setConstant(name, value);
    else obj.setGlobal(name, value);
  }
}

/** Loads or opens the program named by `src`. `types` are the program types the hook takes. */
export function programSource(src: string, args: ParsedArgs, types: readonly string[], usage: string): ProgramSource {
  const wanted = str(args, 'program');
  if (!/^\d+$/.test(src) && isElfFile(src)) {
    const pinRoot = str(args, 'pin-root');
    const obj = BpfObject.open(src, pinRoot ? { pinRoot } : {});
    const candidates = [...obj.spec.programs.values()].filter((p) => p.type !== undefined && types.includes(p.type));
    let name = wanted;
    if (name === undefined) {
      if (candidates.length !== 1)
        throw new CliUsageError(
          candidates.length === 0
            ? `${src} has no ${types.join('/')} program (programs: ${[...obj.spec.programs.values()].map((p) => `${p.name} (${p.type ?? '?'})`).join(', ') || 'none'})`
            : `${src} has ${candidates.length} ${types.join('/')} programs (${candidates.map((p) => p.name).join(', ')}): choose one with --program NAME`,
          usage,
        );
      name = candidates[0]!.name;
    } else if (!obj.spec.programs.has(name)) {
      throw new NotFoundError(`${src} has no program named '${name}'; programs: ${[...obj.spec.programs.keys()].join(', ') || 'none'}`);
    }
    applySettings(obj, strs(args, 'set'), src);
    obj.load({ programs: [name] });
    const prog = obj.program(name);
    return { prog, obj, from: 'file', close: () => obj.close() };
  }
  if (wanted !== undefined) throw new CliUsageError('--program NAME is for object files; a pinned program or an id names one program already', usage);
  if (strs(args, 'set').length) throw new CliUsageError('--set is for object files (it sets globals before load); a pinned or loaded program is loaded already', usage);
  if (!/^\d+$/.test(src) && !src.includes('/')) throw new NotFoundError(`${src}: no such file`);
  const ref = parseRef(src, 'program', usage);
  const prog = openProgram(ref);
  return { prog, from: 'id' in ref ? 'id' : 'pin', close: () => prog.close() };
}

/** An interface by name or index; a missing one is "not found" (exit 3). */
export function resolveIface(iface: string | undefined, usage: string): { index: number; name: string } {
  if (iface === undefined || iface === '') throw new CliUsageError('missing interface', usage);
  if (/^\d+$/.test(iface)) {
    const index = Number(iface);
    const name = ifaceNameOf(index);
    if (name === undefined) throw new NotFoundError(`no interface with index ${index} in this network namespace`);
    return { index, name };
  }
  try {
    return { index: ifindex(iface), name: iface };
  } catch (e) {
    if (e instanceof BpfError && (e.code === 'ENODEV' || e.code === 'ENOENT')) throw new NotFoundError(`no interface named '${iface}' in this network namespace`);
    throw e;
  }
}

function ifaceNameOf(index: number): string | undefined {
  try {
    return ifname(index);
  } catch {
    return undefined;
  }
}

export function direction(d: string | undefined, usage: string): 'ingress' | 'egress' {
  if (d !== 'ingress' && d !== 'egress') throw new CliUsageError(`direction must be ingress or egress, got '${d ?? ''}'`, usage);
  return d;
}

/** Link attachments die with the last fd: a CLI process exits at once, so it must pin. */
export function requirePin(args: ParsedArgs, what: string, usage: string): string {
  const pin = str(args, 'pin');
  if (!pin)
    throw new CliUsageError(
      `${what} needs --pin PATH: a bpf link lives only as long as an fd or a pin holds it, and this command exits right after attaching, so without a pin the kernel would detach the program at once`,
      usage,
    );
  return pin;
}
