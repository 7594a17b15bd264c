export { BpfProgram } from './program.js';
export type { ProgramLoadOptions, ProgramBtfOptions, InstructionsInput, InstructionFieldsLike } from './load.js';
export type { ProgramInfo } from './info.js';
export type { TestRunOptions, TestRunResult } from './test-run.js';
export { listPrograms, listLinks } from './list.js';
export { progTypeName, attachTypeName, linkTypeName, progTypeValue, attachTypeValue } from '../sysinfo/names.js';
