// tcx: the multi-program tc hook (6.6+). `tcx.attach` returns a Link; `tcx.query` lists the
// chain. Legacy tc (clsact + cls_bpf) is in src/tc.
export { attachTcxLink as attach, attachTcxLinkAsync as attachAsync, type TcxLinkOptions, type TcxRelative } from '../link/tcx.js';
export { query, type TcxChain, type TcxEntry } from './query.js';
export type { TcxDirection } from './direction.js';
