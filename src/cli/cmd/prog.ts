// tsbpf prog list|show|dump|run
import { readFileSync, writeFileSync } from 'node:fs';
import { listPrograms, type ProgramInfo } from '../../index.js';
import { type Verb, flag, num, positionals, str } from '../command.js';
import { CliUsageError, EXIT } from '../errors.js';
import { table } from '../output.js';
import { openProgram, parseRef } from '../refs.js';
import { unpinVerb } from './unpin.js';
import { dumpXlated, formatXlated } from '../xlated.js';

function progJson(info: ProgramInfo) {
  return {
    id: info.id,
    type: info.type,
    name: info.name,
    tag: info.tag,
    gplCompatible: info.gplCompatible,
    loadTime: info.loadTime,
    uid: info.createdByUid,
    xlatedBytes: info.xlatedSize,
    xlatedInsns: info.xlatedSize / 8,
    jitedBytes: info.jitedSize,
    verifiedInsns: info.verifiedInsns,
    mapIds: info.mapIds,
    btfId: info.btfId,
    runCount: info.runCount,
    runTimeNs: info.runTimeNs,
    ...(info.ifindex ? { ifindex: info.ifindex } : {}),
    ...(info.attachBtfId ? { attachBtfId: info.attachBtfId, attachBtfObjId: info.attachBtfObjId } : {}),
  };
}

function progRows(list: ProgramInfo[]): string {
  return table(
    ['ID', 'TYPE', 'NAME', 'TAG', 'INSNS', 'MAPS', 'BTF', 'LOADED'],
    list.map((p) => [p.id, p.type, p.name || '-', p.tag, p.xlatedSize / 8, p.mapIds.join(',') || '-', p.btfId || '-', p.loadTime.toISOString().replace(/\.\d+Z$/, 'Z')]),
  );
}

const list: Verb = {
  name: 'prog list',
  usage: 'prog list',
  summary: 'every loaded program (like bpftool prog list)',
  run(args) {
    positionals(args, 0, 0, this.usage);
    const progs = listPrograms().map((p) => p.info);
    return { data: progs.map(progJson), human: () => progRows(progs) };
  },
};

const show: Verb = {
  name: 'prog show',
  usage: 'prog show ID|PIN',
  summary: 'one program: id, type, tag, sizes, maps, BTF, run statistics',
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    const prog = openProgram(parseRef(ref, 'program', this.usage));
    try {
      const info = prog.info();
      const j = progJson(info);
      return {
        data: j,
        human: () =>
          Object.entries(j)
            .map(([k, v]) => `${k.padEnd(14)} ${Array.isArray(v) ? v.join(',') || '-' : v instanceof Date ? v.toISOString() : String(v)}`)
            .join('\n'),
      };
    } finally {
      prog.close();
    }
  },
};

const dump: Verb = {
  name: 'prog dump',
  usage: 'prog dump ID|PIN [--bytes]',
  summary: 'the instructions as the kernel runs them (xlated), with C source lines from BTF line_info',
  help: [
    'Helper calls are named from /proc/kallsyms, map loads show map[id:N name], and each source',
    'line recorded in the program\'s BTF line_info is printed as a "; … @ file:line:col" comment',
    'before its first instruction. --bytes adds the raw instruction bytes.',
  ].join('\n'),
  options: { bytes: {} },
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    const prog = openProgram(parseRef(ref, 'program', this.usage));
    try {
      const info = prog.info();
      const d = dumpXlated(prog);
      return {
        data: { id: info.id, name: info.name, tag: info.tag, ...d },
        human: () => formatXlated(d, { bytes: flag(args, 'bytes') }),
      };
    } finally {
      prog.close();
    }
  },
};

const XDP_ACTIONS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC_ACTIONS: Record<number, string> = { [-1]: 'TC_ACT_UNSPEC', 0: 'TC_ACT_OK', 1: 'TC_ACT_RECLASSIFY', 2: 'TC_ACT_SHOT', 3: 'TC_ACT_PIPE', 4: 'TC_ACT_STOLEN', 5: 'TC_ACT_QUEUED', 6: 'TC_ACT_REPEAT', 7: 'TC_ACT_REDIRECT' };

function retvalName(type: string, retval: number): string | undefined {
  if (type === 'xdp') return XDP_ACTIONS[retval];
  if (type === 'sched_cls' || type === 'sched_act') return TC_ACTIONS[retval | 0];
  return undefined;
}

const run: Verb = {
  name: 'prog run',
  usage: 'prog run ID|PIN --data FILE [--repeat N] [--data-out FILE] [--ctx FILE]',
  summary: 'run a program once (or N times) on a packet file in the kernel (BPF_PROG_TEST_RUN)',
  help: [
    '--data FILE      the packet (raw bytes, from the Ethernet header on for xdp/tc programs)',
    '--repeat N       run N times back to back; the duration is the mean per run',
    '--data-out FILE  write the packet as the program left it',
    '--ctx FILE       the context struct to pass in (xdp_md, __sk_buff...)',
  ].join('\n'),
  options: { data: { value: true }, repeat: { value: true }, 'data-out': { value: true }, ctx: { value: true } },
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    const dataPath = str(args, 'data');
    if (dataPath === undefined) throw new CliUsageError('--data FILE is required (the packet to run the program on)', this.usage);
    const read = (p: string): Uint8Array => {
      try {
        return readFileSync(p);
      } catch (e) {
        throw new CliUsageError(`cannot read ${p}: ${(e as Error).message}`, this.usage);
      }
    };
    const data = read(dataPath);
    const ctxPath = str(args, 'ctx');
    const repeat = num(args, 'repeat', this.usage);
    const prog = openProgram(parseRef(ref, 'program', this.usage));
    try {
      const r = prog.testRun({ data, ...(repeat !== undefined ? { repeat } : {}), ...(ctxPath ? { ctx: read(ctxPath) } : {}) });
      const out = str(args, 'data-out');
      if (out) writeFileSync(out, r.data);
      const name = retvalName(prog.type, r.retval);
      const result = {
        id: prog.info().id,
        type: prog.type,
        retval: r.retval,
        ...(name ? { action: name } : {}),
        durationNs: r.durationNs,
        repeat: repeat ?? 1,
        dataIn: data.length,
        dataOut: r.data.length,
        dataOutHex: Buffer.from(r.data).toString('hex'),
        dataChanged: Buffer.compare(Buffer.from(r.data), Buffer.from(data)) !== 0,
      };
      return {
        data: result,
        exitCode: EXIT.ok,
        human: () =>
          [
            `retval      ${r.retval}${name ? ` (${name})` : ''}`,
            `duration    ${r.durationNs} ns${(repeat ?? 1) > 1 ? ` (mean of ${repeat} runs)` : ''}`,
            `data in     ${data.length} bytes`,
            `data out    ${r.data.length} bytes${result.dataChanged ? ' (changed)' : ' (unchanged)'}${out ? `, written to ${out}` : ''}`,
          ].join('\n'),
      };
    } finally {
      prog.close();
    }
  },
};

export const progVerbs: Verb[] = [list, show, dump, run, unpinVerb('prog')];
