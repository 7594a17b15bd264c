/** Where in the input an assembler error was found; every field is optional. */
export interface AsmErrorLocation {
  /** Byte offset in an encoded program (decode, disassemble). */
  offset?: number;
  /** Instruction index (slot number) in a program. */
  insnIndex?: number;
  /** 1-based line number in assembly text (parse). */
  line?: number;
}

/**
 * The one error type of ebpf-asm-ts: bad bytes, bad instruction fields, bad assembly text,
 * unresolved labels. The message names the location; the fields carry it for programs.
 */
export class AsmError extends Error {
  readonly offset: number | undefined;
  readonly insnIndex: number | undefined;
  readonly line: number | undefined;

  constructor(message: string, location: AsmErrorLocation = {}) {
    super(message + describe(location));
    this.name = 'AsmError';
    this.offset = location.offset;
    this.insnIndex = location.insnIndex;
    this.line = location.line;
  }
}

function describe(loc: AsmErrorLocation): string {
  const parts: string[] = [];
  if (loc.line !== undefined) parts.push(`line ${loc.line}`);
  if (loc.insnIndex !== undefined) parts.push(`instruction ${loc.insnIndex}`);
  if (loc.offset !== undefined) parts.push(`byte offset ${loc.offset}`);
  return parts.length ? ` (at ${parts.join(', ')})` : '';
}
