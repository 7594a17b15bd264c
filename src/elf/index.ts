// ELF: BPF object files → ObjectSpec (programs, maps, globals, externs) and linked programs.
// Pure: no bpf(2). See README.md.
export { openObjectSpec, objectNameFromPath, internalMapName, type OpenObjectOptions, type ProgramTypeOverride } from './object.js';
export { linkProgram, type LinkedProgram, type LinkedRelocation, type LinkExtInfo, type ExtRecord, type SectionRecords } from './link.js';
export { setVariable, getVariable } from './variables.js';
export { copyObjectSpec, copyMapSpec, copyProgramSpec } from './copy.js';
export { parseProgramSection, findSectionDef, SECTION_DEFS, type SectionDef, type AttachTarget, type AttachTargetKind, type ProgramSectionInfo } from './sections.js';
export * from './names.js';
export type * from './spec.js';
export { ElfFile, parseElf, type ElfSection, type ElfSymbol, type ElfRelocation } from './reader.js';
