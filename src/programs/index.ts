export { BpfProgram } from './program.js';
export type { ProgramLoadOptions, ProgramBtfOptions, InstructionsInput, InstructionFieldsLike } from './load.js';
export type { ProgramInfo } from './info.js';
export type { TestRunOptions, TestRunResult } from './test-run.js';
export { listPrograms, listLinks } from './list.js';
export { decodeLinkInfo, linkInfoByFd, type LinkInfo } from '../sysinfo/link-info.js';
export { progTypeName, attachTypeName, linkTypeName, progTypeValue, attachTypeValue } from '../sysinfo/names.js';
