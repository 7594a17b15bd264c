// Writing a BPF program by hand with the assembler (tsbpf/asm), no C compiler involved.
//
// ProgramBuilder assembles an XDP program that counts frames per EtherType in a hash map and
// drops one EtherType: labels for the jumps, a map referenced by name (its fd is patched in by
// resolveMaps), helper calls by name, an atomic add. BpfProgram.load hands it to the verifier;
// testRun runs it on crafted Ethernet frames. The example prints the disassembly (which reads
// back into the same bytes with assemble()), each frame's verdict and the map's contents.
//
//   sudo npx tsx examples/assembler.ts [--drop-ethertype 0x88b5]
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { ProgramBuilder, R0, R1, R2, R3, R4, R6, R7, R10, assemble, decode, disassemble, helperName } from 'tsbpf/asm';
import { BpfMap, BpfProgram, readU32, readU64Number } from 'tsbpf';
import { fail, onExit, parseArgs, requireRoot } from './lib/testbed.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const opts = parseArgs('assembler', { 'drop-ethertype': 0x88b5 });
requireRoot('assembler', 'CAP_BPF to load and test-run programs');
const dropType = opts['drop-ethertype'];
if (dropType > 0xffff) fail('assembler', '--drop-ethertype must fit in 16 bits');

let map: BpfMap | undefined;
let prog: BpfProgram | undefined;
const cleanup = onExit(() => {
  prog?.close();
  map?.close();
});

// key: EtherType (u32, host order) -> value: frames seen (u64)
map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'by_ethertype' });

const b = new ProgramBuilder()
  .mov64(R6, R1) //                          r6 = ctx (struct xdp_md *)
  .ldxw(R2, R6, 0) //                        r2 = ctx->data
  .ldxw(R3, R6, 4) //                        r3 = ctx->data_end
  .mov64(R4, R2)
  .add64(R4, 14)
  .jgt(R4, R3, 'pass') //                    shorter than an Ethernet header: let it be
  .ldxh(R7, R2, 12) //                       r7 = h_proto, network byte order
  .be(R7, 16) //                             ... to host order (r6-r9 survive helper calls)
  .stxw(R10, -4, R7) //                      the key, on the stack
  .ldMapFd(R1, 'by_ethertype')
  .mov64(R2, R10)
  .add64(R2, -4)
  .call('map_lookup_elem')
  .jeq(R0, 0, 'first') //                    no entry yet
  .mov64(R1, 1)
  .atomicAdd('dw', R0, 0, R1) //             lock *(u64 *)(r0 + 0) += 1
  .ja('verdict')
  .label('first')
  .st('dw', R10, -16, 1) //                  value 1, on the stack
  .ldMapFd(R1, 'by_ethertype')
  .mov64(R2, R10)
  .add64(R2, -4)
  .mov64(R3, R10)
  .add64(R3, -16)
  .mov64(R4, 0) //                           BPF_ANY
  .call('map_update_elem')
  .label('verdict')
  .mov64(R0, XDP_PASS)
  .jne(R7, dropType, 'out')
  .mov64(R0, XDP_DROP)
  .label('out')
  .exit()
  .label('pass')
  .mov64(R0, XDP_PASS)
  .exit();
const { bytes, mapReferences, resolveMaps } = b.assemble();

const text = disassemble(bytes);
console.log(`${bytes.length / 8} instruction slots; map references: ${mapReferences.map((r) => `${r.name} at ${r.insnIndex}`).join(', ')}`);
// Numbered by slot, as the kernel counts (ld_imm64 takes two), with helper calls named.
let slot = 0;
const lines = text.split('\n');
decode(bytes).forEach((insn, i) => {
  const call = insn.opcode === 0x85 && insn.src === 0 ? `\t; ${helperName(insn.imm)}` : '';
  console.log(`  ${String(slot).padStart(2)}: ${lines[i]}${call}`);
  slot += insn.kind === 'ld_imm64' ? 2 : 1;
});
const roundTrip = Buffer.from(assemble(text)).equals(Buffer.from(bytes));
console.log(`assemble(disassemble(bytes)) gives the same bytes: ${roundTrip}`);

// logLevel 4: the verifier's statistics even though the load succeeds.
prog = BpfProgram.load({ type: 'xdp', instructions: resolveMaps({ by_ethertype: map.fd }), license: 'GPL', name: 'asm_ethertype', logLevel: 4 });
const info = prog.info();
const stats = prog.verifierLog?.split('\n').find((l) => l.startsWith('processed')) ?? '';
console.log(`loaded as program id ${info.id} (tag ${info.tag}): ${stats}`);

function frame(etherType: number, len = 64): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, etherType >> 8, etherType & 0xff]);
  return f;
}
const frames: [string, number][] = [
  ['IPv4', 0x0800], ['IPv4', 0x0800], ['IPv4', 0x0800],
  ['ARP', 0x0806], ['ARP', 0x0806],
  ['IPv6', 0x86dd],
  ['blocked', dropType], ['blocked', dropType],
];
const verdicts: { frame: string; etherType: string; retval: number }[] = [];
for (const [name, type] of frames) {
  const { retval } = prog.testRun({ data: frame(type) });
  verdicts.push({ frame: name, etherType: `0x${type.toString(16).padStart(4, '0')}`, retval });
  console.log(`  ${name.padEnd(8)} 0x${type.toString(16).padStart(4, '0')} -> ${retval === XDP_DROP ? 'XDP_DROP' : retval === XDP_PASS ? 'XDP_PASS' : retval}`);
}

const counts: Record<string, number> = {};
for (const [k, v] of map.entries()) counts[`0x${readU32(k).toString(16).padStart(4, '0')}`] = readU64Number(v as Uint8Array);
console.log(`by_ethertype: ${JSON.stringify(counts)}`);

console.log(JSON.stringify({ slots: bytes.length / 8, mapReferences, roundTrip, verifiedInsns: info.verifiedInsns, verdicts, counts, disassembly: text.split('\n') }));
cleanup();
