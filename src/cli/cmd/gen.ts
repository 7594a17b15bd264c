// tsbpf gen skeleton: the CLI face of src/skeleton (the generator is library code).
import { readFileSync, writeFileSync } from 'node:fs';
import { generateSkeleton } from '../../index.js';
import { UsageError } from '../../errors.js';
import { type Verb, positionals, str, strs } from '../command.js';
import { NotFoundError } from '../errors.js';

const SKELETON_USAGE = 'gen skeleton OBJECT.o [--type NAME]... [--object-path PATH] [--import SPEC] [--name NAME] [-o FILE]';

const skeleton: Verb = {
  name: 'gen skeleton',
  usage: SKELETON_USAGE,
  summary: 'write a TypeScript skeleton module for an object (typed maps, globals, programs)',
  help: [
    'Writes the module to stdout (or to -o FILE): an interface per struct and union the',
    "object's maps and global variables use (from its BTF), typed maps, .rodata settings,",
    '.data/.bss globals and programs by name, and the object itself, so a tool is one import:',
    '',
    '  tsbpf gen skeleton prog.o > prog.skel.ts',
    "  import { open } from './prog.skel.js';",
    '  using skel = open(); skel.rodata.port = 53; skel.load();',
    '  skel.maps.flows.lookup({ saddr, dport })   // { packets: bigint, bytes: bigint } | undefined',
    '',
    'options:',
    '  --object-path PATH  read the object from PATH (relative to the module) at open()',
    '                      instead of embedding its bytes (base64); a rebuilt object whose',
    '                      types changed is refused at open()',
    '  --type NAME         also type this struct, union, typedef or enum (repeatable): an',
    '                      interface, and its codec under skel.types (ring buffer records:',
    '                      skel.types.event.decode(record))',
    "  --import SPEC       the module to import tsbpf from (default 'tsbpf')",
    "  --name NAME         the object's name (data map names, type names; default: the file's)",
    '  -o, --output FILE   write FILE instead of stdout',
  ].join('\n'),
  options: { type: { value: true, repeat: true }, 'object-path': { value: true }, import: { value: true }, name: { value: true }, output: { value: true, short: 'o' } },
  run(args) {
    const [file] = positionals(args, 1, 1, SKELETON_USAGE);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file!);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${file}: no such file`);
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const objectPath = str(args, 'object-path');
    const importFrom = str(args, 'import');
    const name = str(args, 'name');
    const types = strs(args, 'type');
    const source = generateSkeleton(bytes, {
      fileName: file!,
      ...(objectPath !== undefined ? { objectPath } : {}),
      ...(importFrom !== undefined ? { importFrom } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(types.length ? { types } : {}),
    });
    const output = str(args, 'output');
    if (output !== undefined) {
      writeFileSync(output, source);
      return { data: { object: file, output, bytes: Buffer.byteLength(source) }, human: () => '' };
    }
    return { data: { object: file, source }, human: () => source };
  },
};

export const genVerbs: Verb[] = [skeleton];
