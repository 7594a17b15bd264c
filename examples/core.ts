// CO-RE: one compiled program, relocated to this kernel's task_struct (examples/bpf/core_task.c).
//
// The C source declares a four-field task_struct of its own (no vmlinux.h). At load, tsbpf
// matches every field access against the running kernel's BTF (/sys/kernel/btf/vmlinux) and
// rewrites offsets, sizes and bpf_core_field_exists answers in the instructions. The raw
// tracepoint program is run once with BPF_PROG_TEST_RUN, in this process's own context, so
// what it reads from the current task must be this process: pid, parent, comm, state.
// Then the relocated numbers are compared with what `bpftool btf dump` says about the kernel.
//
//   sudo npx tsx examples/core.ts
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, readU32, readU64Number } from 'tsbpf';
import { onExit, parseArgs, requireRoot } from './lib/testbed.js';

parseArgs('core', {});
requireRoot('core', 'CAP_BPF and CAP_PERFMON to load a tracing program');
const here = dirname(fileURLToPath(import.meta.url));
const FIELDS = ['pid', 'tgid', 'comm', 'real_parent'] as const;

let obj: BpfObject | undefined;
const cleanup = onExit(() => obj?.close());

obj = BpfObject.open(join(here, 'bpf', 'core_task.o'));

// The layout clang compiled for: the program's own idea of task_struct.
const btf = obj.btf!;
const localId = btf.typeByName('task_struct', 'struct')!;
const compiled = { size: btf.sizeOf(localId), ...Object.fromEntries(FIELDS.map((f) => [f, btf.memberOffset(localId, f)])) } as Record<'size' | (typeof FIELDS)[number], number>;
console.log(`compiled for:   task_struct of ${compiled.size} bytes, ${FIELDS.map((f) => `${f} at ${compiled[f]}`).join(', ')}`);

obj.load(); // CO-RE relocations happen here, against the running kernel's BTF
obj.program('read_task').testRun({ ctx: new Uint8Array(16) }); // sys_enter's two u64 arguments

const g32 = (name: string): number => readU32(obj!.global(name));
const relocated = {
  size: g32('task_size'),
  pid: g32('off_pid'),
  tgid: g32('off_tgid'),
  comm: g32('off_comm'),
  real_parent: g32('off_real_parent'),
  commSize: g32('size_comm'),
  hasNewState: g32('has_new_state') === 1,
  hasOldState: g32('has_old_state') === 1,
};
console.log(`relocated to:   task_struct of ${relocated.size} bytes, ${FIELDS.map((f) => `${f} at ${relocated[f]}`).join(', ')}; ` +
  `__state ${relocated.hasNewState ? 'exists' : 'missing'}, state ${relocated.hasOldState ? 'exists' : 'missing'}`);

const comm = Buffer.from(obj.global('task_comm')).toString('latin1').replace(/\0.*$/s, '');
const read = { pid: g32('task_pid'), tgid: g32('task_tgid'), parentTgid: g32('parent_tgid'), comm, state: readU64Number(obj.global('task_state')) };
console.log(`the task that ran it: pid ${read.pid}, tgid ${read.tgid}, parent ${read.parentTgid}, comm '${read.comm}', state ${read.state} (0 = running)`);

// The same facts from a second source: bpftool's dump of the kernel's BTF.
function bpftoolFacts() {
  const dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { maxBuffer: 1 << 28, encoding: 'utf8' });
  const start = dump.search(/^\[\d+\] STRUCT 'task_struct' size=/m);
  const block = dump.slice(start, dump.indexOf('\n[', start));
  const member = (name: string) => {
    const m = new RegExp(`^\\t'${name}' type_id=(\\d+) bits_offset=(\\d+)`, 'm').exec(block);
    return m ? { typeId: Number(m[1]), offset: Number(m[2]) / 8 } : undefined;
  };
  const commType = member('comm')!.typeId;
  const commArray = new RegExp(`^\\[${commType}\\] ARRAY .* nr_elems=(\\d+)`, 'm').exec(dump);
  return {
    size: Number(/size=(\d+)/.exec(block)![1]),
    ...Object.fromEntries(FIELDS.map((f) => [f, member(f)!.offset])),
    commSize: Number(commArray![1]),
    hasNewState: member('__state') !== undefined,
    hasOldState: member('state') !== undefined,
  } as typeof relocated;
}
const kernel = bpftoolFacts();
const expectedTask = { pid: process.pid, tgid: process.pid, parentTgid: process.ppid, comm: readFileSync('/proc/self/comm', 'utf8').trim(), state: 0 };

const rows = [
  ...Object.keys(relocated).map((k) => [`${k}`, relocated[k as keyof typeof relocated], kernel[k as keyof typeof kernel], 'bpftool btf dump'] as const),
  ...Object.keys(read).map((k) => [k, read[k as keyof typeof read], expectedTask[k as keyof typeof expectedTask], 'this process'] as const),
];
let agree = true;
for (const [name, got, want, source] of rows) {
  agree &&= got === want;
  console.log(`  ${name.padEnd(12)} ${String(got).padStart(6)}  ${got === want ? '==' : '!='} ${String(want).padStart(6)}  (${source})`);
}
console.log(agree ? 'every relocated value matches the kernel' : 'MISMATCH');

console.log(JSON.stringify({ compiled, relocated, kernel, read, expectedTask, agree }));
cleanup();
if (!agree) process.exitCode = 1;
