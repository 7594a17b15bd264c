// tsbpf map list|show|dump|lookup|update|delete
import { listMaps, type BpfMap, type ElemFlag, type MapInfo } from '../../index.js';
import type { Btf } from '../../btf/index.js';
import { btfTypeName as typeName, decodeValue, formatDecoded, type Decoded } from '../../btf/index.js';
import { type Verb, positionals, str } from '../command.js';
import { CliUsageError, EXIT, NotFoundError } from '../errors.js';
import { parsedBtfById } from '../kinfo.js';
import { table } from '../output.js';
import { openMap, parseBytes, parseRef } from '../refs.js';
import { unpinVerb } from './unpin.js';

const FLAG_NAMES: [number, string][] = [
  [1 << 0, 'no_prealloc'], [1 << 1, 'no_common_lru'], [1 << 2, 'numa_node'], [1 << 3, 'rdonly'], [1 << 4, 'wronly'],
  [1 << 5, 'stack_build_id'], [1 << 6, 'zero_seed'], [1 << 7, 'rdonly_prog'], [1 << 8, 'wronly_prog'], [1 << 9, 'clone'],
  [1 << 10, 'mmapable'], [1 << 11, 'preserve_elems'], [1 << 12, 'inner_map'], [1 << 13, 'link'], [1 << 14, 'path_fd'],
  [1 << 15, 'vtype_btf_obj_fd'], [1 << 16, 'token_fd'], [1 << 17, 'segv_on_fault'], [1 << 18, 'no_user_conv'],
];

export function flagNames(flags: number): string[] {
  const out = FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  const known = FLAG_NAMES.reduce((a, [b]) => a | b, 0);
  if (flags & ~known) out.push(`0x${(flags & ~known).toString(16)}`);
  return out;
}

interface MapBtf {
  btf: Btf;
  keyType: number;
  valueType: number;
}

function mapBtf(info: MapInfo): MapBtf | undefined {
  if (!info.btfId || !info.btfValueTypeId) return undefined;
  try {
    return { btf: parsedBtfById(info.btfId), keyType: info.btfKeyTypeId, valueType: info.btfValueTypeId };
  } catch {
    return undefined; // values print as hex
  }
}

function mapJson(info: MapInfo, b?: MapBtf) {
  return {
    id: info.id,
    type: info.type,
    name: info.name,
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
    flags: info.flags,
    flagNames: flagNames(info.flags),
    btfId: info.btfId,
    ...(b
      ? {
          btfKeyTypeId: info.btfKeyTypeId,
          btfValueTypeId: info.btfValueTypeId,
          keyType: b.keyType ? typeName(b.btf, b.keyType) : undefined,
          valueType: typeName(b.btf, b.valueType),
        }
      : {}),
    ...(info.ifindex ? { ifindex: info.ifindex } : {}),
    ...(info.mapExtra ? { mapExtra: info.mapExtra } : {}),
  };
}

const hexStr = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const spaced = (b: Uint8Array): string => hexStr(b).replace(/(..)(?!$)/g, '$1 ');

function decodeOr(b: MapBtf | undefined, type: number, bytes: Uint8Array): Decoded | undefined {
  if (!b || !type) return undefined;
  try {
    return decodeValue(b.btf, type, bytes);
  } catch {
    return undefined;
  }
}

type LookedUp = Uint8Array | Uint8Array[] | number;

interface Entry {
  key: string;
  value?: string;
  /** Per-CPU maps: one value per possible CPU. */
  values?: { cpu: number; value: string; formatted?: Decoded }[];
  /** prog_array and map-in-map: the id of the program or map in the slot. */
  id?: number;
  formatted?: { key?: Decoded; value?: Decoded };
}

function entry(key: Uint8Array, v: LookedUp, b: MapBtf | undefined): Entry {
  const e: Entry = { key: hexStr(key) };
  const fk = decodeOr(b, b?.keyType ?? 0, key);
  if (typeof v === 'number') {
    e.id = v;
  } else if (Array.isArray(v)) {
    e.values = v.map((x, cpu) => {
      const f = decodeOr(b, b?.valueType ?? 0, x);
      return { cpu, value: hexStr(x), ...(f !== undefined ? { formatted: f } : {}) };
    });
  } else {
    e.value = hexStr(v);
    const fv = decodeOr(b, b?.valueType ?? 0, v);
    if (fk !== undefined || fv !== undefined) e.formatted = { ...(fk !== undefined ? { key: fk } : {}), ...(fv !== undefined ? { value: fv } : {}) };
    return e;
  }
  if (fk !== undefined) e.formatted = { key: fk };
  return e;
}

/** Every map's keys print the same way: the bytes, as `map lookup/update/delete` take them
 * (so a key can be copied from a dump), then the key decoded through BTF where the map's
 * BTF has a key type (data maps and maps without BTF have none). */
function humanKey(e: Entry): string {
  const bytes = spaced(Buffer.from(e.key, 'hex'));
  return e.formatted?.key !== undefined ? `${bytes} (${formatDecoded(e.formatted.key)})` : bytes;
}

function humanValue(e: Entry): string {
  if (e.id !== undefined) return `id ${e.id}`;
  if (e.values) return e.values.map((c) => `cpu${c.cpu}: ${c.formatted !== undefined ? formatDecoded(c.formatted) : spaced(Buffer.from(c.value, 'hex'))}`).join('  ');
  return e.formatted?.value !== undefined ? formatDecoded(e.formatted.value) : spaced(Buffer.from(e.value ?? '', 'hex'));
}

function withMap<T>(ref: string | undefined, usage: string, f: (m: BpfMap, info: MapInfo, b: MapBtf | undefined) => T): T {
  const m = openMap(parseRef(ref, 'map', usage));
  try {
    const info = m.info();
    return f(m, info, mapBtf(info));
  } finally {
    m.close();
  }
}

const list: Verb = {
  name: 'map list',
  usage: 'map list',
  summary: 'every map in the system (like bpftool map list)',
  run(args) {
    positionals(args, 0, 0, this.usage);
    const maps = listMaps().map((m) => m.info);
    return {
      data: maps.map((i) => mapJson(i)),
      human: () =>
        table(
          ['ID', 'TYPE', 'NAME', 'KEY', 'VALUE', 'MAX', 'FLAGS', 'BTF'],
          maps.map((i) => [i.id, i.type, i.name || '-', i.keySize, i.valueSize, i.maxEntries, flagNames(i.flags).join(',') || '-', i.btfId || '-']),
        ),
    };
  },
};

const show: Verb = {
  name: 'map show',
  usage: 'map show ID|PIN',
  summary: 'one map: type, sizes, flags, and its key/value types when it has BTF',
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    return withMap(ref, this.usage, (_m, info, b) => {
      const j = mapJson(info, b);
      return {
        data: j,
        human: () =>
          Object.entries(j)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k.padEnd(14)} ${Array.isArray(v) ? v.join(',') || '-' : String(v)}`)
            .join('\n'),
      };
    });
  },
};

const dump: Verb = {
  name: 'map dump',
  usage: 'map dump ID|PIN',
  summary: 'every entry; values decoded through the map\'s BTF when it has some',
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    return withMap(ref, this.usage, (m, _info, b) => {
      const entries: Entry[] = [];
      for (const [k, v] of m.entries()) entries.push(entry(k, v as LookedUp, b));
      return {
        data: entries,
        human: () => (entries.length ? table(['KEY', 'VALUE'], entries.map((e) => [humanKey(e), humanValue(e)])) : '(empty)'),
      };
    });
  },
};

const KEY_HELP = [
  'KEY and VALUE: `hex 01 02 03 04` (one byte a word, like bpftool), one word of hex bytes',
  '(0x0a000001, "0a 00 00 01", 0a:00:00:01), or a decimal integer written little-endian in',
  'the key or value size (5 is 05 00 00 00 for a 4-byte key).',
].join('\n');

function keyArg(args: readonly string[], at: number, size: number, usage: string): { bytes: Uint8Array; used: number } {
  if (size === 0) return { bytes: new Uint8Array(0), used: 0 };
  return parseBytes(args, at, size, 'key', usage);
}

const lookup: Verb = {
  name: 'map lookup',
  usage: 'map lookup ID|PIN KEY',
  summary: 'the value at KEY (exit code 3 when there is none)',
  help: KEY_HELP,
  run(args) {
    const [ref] = positionals(args, 2, 1 + 1 + 64, this.usage);
    return withMap(ref, this.usage, (m, info, b) => {
      const { bytes: key, used } = keyArg(args.positionals, 1, info.keySize, this.usage);
      if (1 + used !== args.positionals.length) throw new CliUsageError(`unexpected argument '${args.positionals[1 + used]}'`, this.usage);
      const v = m.lookup(info.keySize ? key : null);
      if (v === undefined) throw new NotFoundError(`map ${info.id}${info.name ? ` (${info.name})` : ''} has no entry with key ${spaced(key)}`);
      const e = entry(key, v as LookedUp, b);
      return { data: e, human: () => `key: ${humanKey(e)}\nvalue: ${humanValue(e)}` };
    });
  },
};

const update: Verb = {
  name: 'map update',
  usage: 'map update ID|PIN KEY VALUE [--flags any|noexist|exist]',
  summary: 'create or replace the value at KEY (per-CPU maps: VALUE goes to every CPU)',
  help: KEY_HELP,
  options: { flags: { value: true } },
  run(args) {
    const [ref] = positionals(args, 3, 1 + 130, this.usage);
    const f = str(args, 'flags') ?? 'any';
    if (!['any', 'noexist', 'exist'].includes(f)) throw new CliUsageError(`--flags must be any, noexist or exist, got '${f}'`, this.usage);
    return withMap(ref, this.usage, (m, info, b) => {
      const { bytes: key, used } = keyArg(args.positionals, 1, info.keySize, this.usage);
      const { bytes: value, used: vused } = parseBytes(args.positionals, 1 + used, info.valueSize, 'value', this.usage);
      if (1 + used + vused !== args.positionals.length) throw new CliUsageError(`unexpected argument '${args.positionals[1 + used + vused]}'`, this.usage);
      m.update(info.keySize ? key : null, value, f as ElemFlag);
      const e = entry(key, value, b);
      return { data: { updated: true, ...e }, human: () => `updated key ${humanKey(e)}: ${humanValue(e)}` };
    });
  },
};

const del: Verb = {
  name: 'map delete',
  usage: 'map delete ID|PIN KEY',
  summary: 'remove the entry at KEY (exit code 3 when there is none)',
  help: KEY_HELP,
  run(args) {
    const [ref] = positionals(args, 2, 1 + 65, this.usage);
    return withMap(ref, this.usage, (m, info) => {
      const { bytes: key, used } = keyArg(args.positionals, 1, info.keySize, this.usage);
      if (1 + used !== args.positionals.length) throw new CliUsageError(`unexpected argument '${args.positionals[1 + used]}'`, this.usage);
      if (!m.delete(key)) throw new NotFoundError(`map ${info.id}${info.name ? ` (${info.name})` : ''} has no entry with key ${spaced(key)}`);
      return { data: { deleted: true, key: hexStr(key) }, human: () => `deleted key ${spaced(key)}`, exitCode: EXIT.ok };
    });
  },
};

export const mapVerbs: Verb[] = [list, show, dump, lookup, update, del, unpinVerb('map')];
