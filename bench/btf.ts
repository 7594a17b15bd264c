// BTF parsing: tsbpf against libbpf 1.1 in C, side by side in one run, on the kernel's BTF.
//
//   npx tsx bench/btf.ts [--iters 40] [--reps 3] [--file /sys/kernel/btf/vmlinux] [--name task_struct] [--json]
//
// Four figures per side (milliseconds, best and median over `iters` runs; each rep alternates
// C and tsbpf and keeps each side's best medians): reading the file, read + parse
// (btf__parse), parse of bytes already in memory (btf__new), and the first lookup of a struct
// by name on a freshly parsed BTF (btf__find_by_name_kind), for a struct near the start and
// for the last struct in the file (both sides scan linearly for a first match). The C side is
// bench/c/btf_parse.c, built here with gcc -lbpf if missing or stale. A last row maps the
// file instead of reading it (what setKernelBtfReader allows a loader to do), where the kernel
// permits mmap of /sys/kernel/btf files.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf } from '../src/btf/btf.js';
import { readWholeFile } from '../src/btf/kernel.js';
import { MAP_PRIVATE, PROT_READ, mmapFd } from '../src/syscall/index.js';
import { closeSync, openSync, fstatSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'c', 'btf_parse.c');
const binary = join(here, 'c', 'build', 'btf_parse');

const argv = process.argv;
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const ITERS = Number(arg('iters', '40'));
const REPS = Number(arg('reps', '3'));
const FILE = arg('file', '/sys/kernel/btf/vmlinux');
const NAME = arg('name', 'task_struct');

interface Stat {
  min: number;
  median: number;
}
type Figures = Record<'read' | 'read_parse' | 'parse' | 'lookup' | 'lookup_late', Stat> & { mmap_parse?: Stat };

function buildC(): void {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return;
  mkdirSync(dirname(binary), { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', source, '-lbpf', '-o', binary], { stdio: 'inherit' });
}

function stat(times: number[]): Stat {
  const s = [...times].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]! };
}

function timeIt(n: number, f: (i: number) => void, setup?: () => void): Stat {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    setup?.();
    const t0 = performance.now();
    f(i);
    t.push(performance.now() - t0);
  }
  return stat(t);
}

/** The last named struct in the file: the worst case for a first-match scan. */
function lateName(): string {
  const btf = Btf.parse(readWholeFile(FILE));
  for (let id = btf.lastTypeId; id > 0; id--) {
    const t = btf.type(id);
    if (t.kind === 'struct' && t.name && btf.typeByName(t.name, 'struct') === id) return t.name;
  }
  return NAME;
}
const LATE = lateName();

/** mmap(2) of the file (through src/syscall; allowed for kernel BTF on 6.16+) and parse in place. */
function mmapParse(): number {
  const fd = openSync(FILE, 'r');
  try {
    const m = mmapFd(fd, fstatSync(fd).size, PROT_READ, MAP_PRIVATE);
    if (typeof m === 'number') throw new Error(`mmap: errno ${-m}`);
    // Unmapped when the view is collected (src/syscall/libc.ts: mappings have no unmap).
    return Btf.parse(m).typeCount;
  } finally {
    closeSync(fd);
  }
}
let canMmap = true;
try {
  mmapParse();
} catch {
  canMmap = false;
}

function ours(): { figures: Figures; types: number; id: number | undefined; lateId: number | undefined } {
  const bytes = readWholeFile(FILE);
  let btf = Btf.parse(bytes);
  let id: number | undefined;
  let lateId: number | undefined;
  const figures: Figures = {
    read: timeIt(ITERS, () => readWholeFile(FILE)),
    read_parse: timeIt(ITERS, () => Btf.parse(readWholeFile(FILE))),
    parse: timeIt(ITERS, () => Btf.parse(bytes)),
    lookup: timeIt(
      ITERS,
      () => (id = btf.typeByName(NAME, 'struct')),
      () => (btf = Btf.parse(bytes)),
    ),
    lookup_late: timeIt(
      ITERS,
      () => (lateId = btf.typeByName(LATE, 'struct')),
      () => (btf = Btf.parse(bytes)),
    ),
  };
  if (canMmap) figures.mmap_parse = timeIt(ITERS, () => mmapParse());
  return { figures, types: btf.typeCount, id, lateId };
}

function theirs(): { figures: Figures; types: number; id: number; lateId: number } {
  const out = JSON.parse(execFileSync(binary, [FILE, String(ITERS), NAME, LATE]).toString());
  return { figures: out, types: out.types, id: out.id, lateId: out.late_id };
}

function better(a: Figures | undefined, b: Figures): Figures {
  if (!a) return b;
  const o = { ...a };
  for (const k of Object.keys(b) as (keyof Figures)[]) {
    const x = a[k];
    const y = b[k]!;
    o[k] = x ? { min: Math.min(x.min, y.min), median: Math.min(x.median, y.median) } : y;
  }
  return o;
}

buildC();
// Warm-up: JIT-compile the parser before anything is measured.
for (let i = 0; i < 20; i++) Btf.parse(readWholeFile(FILE)).typeByName(NAME);
let c: Figures | undefined;
let t: Figures | undefined;
let meta = { types: 0, cTypes: 0, id: undefined as number | undefined, cId: 0, lateId: undefined as number | undefined, cLateId: 0 };
for (let r = 0; r < REPS; r++) {
  const a = theirs();
  const b = ours();
  c = better(c, a.figures);
  t = better(t, b.figures);
  meta = { types: b.types, cTypes: a.types, id: b.id, cId: a.id, lateId: b.lateId, cLateId: a.lateId };
}
if (meta.types !== meta.cTypes || meta.id !== meta.cId || meta.lateId !== meta.cLateId)
  throw new Error(`disagreement with libbpf: types ${meta.types}/${meta.cTypes}, ${NAME} ${meta.id}/${meta.cId}, ${LATE} ${meta.lateId}/${meta.cLateId}`);

if (argv.includes('--json')) console.log(JSON.stringify({ file: FILE, types: meta.types, late: LATE, libbpf: c, tsbpf: t }));
else {
  console.log(`${FILE}: ${meta.types} types; ${NAME} is [${meta.id}], ${LATE} is [${meta.lateId}] (libbpf agrees)`);
  console.log(`${'op'.padEnd(44)}${'libbpf ms'.padStart(18)}${'tsbpf ms'.padStart(18)}${'ratio'.padStart(8)}`);
  const rows: [keyof Figures, string][] = [
    ['read', 'read file'],
    ['read_parse', 'read + parse (btf__parse)'],
    ['parse', 'parse bytes in memory (btf__new)'],
    ['lookup', `first typeByName('${NAME}')`],
    ['lookup_late', `first typeByName('${LATE}')`],
  ];
  for (const [k, label] of rows) {
    const a = c![k]!;
    const b = t![k]!;
    const fmt = (s: Stat): string => `${s.median.toFixed(3)} (${s.min.toFixed(3)})`;
    console.log(`${label.padEnd(44)}${fmt(a).padStart(18)}${fmt(b).padStart(18)}${(b.median / a.median).toFixed(2).padStart(8)}`);
  }
  if (t!.mmap_parse) {
    const m = t!.mmap_parse;
    const a = c!.read_parse;
    console.log(
      `${'mmap + parse (vs btf__parse)'.padEnd(44)}${`${a.median.toFixed(3)} (${a.min.toFixed(3)})`.padStart(18)}${`${m.median.toFixed(3)} (${m.min.toFixed(3)})`.padStart(18)}${(m.median / a.median).toFixed(2).padStart(8)}`,
    );
  }
  console.log('median (best) per operation; ratio = tsbpf / libbpf medians');
}
