// tsbpf: the public surface. Each concept lives in its own folder; this file only re-exports.
export * from './errors.js';
