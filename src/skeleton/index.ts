// Skeletons: a TypeScript module per BPF object with typed maps, globals and programs
// (`tsbpf gen skeleton`), and the runtime those modules call.
export { generateSkeleton, type GenerateOptions } from './generate.js';
export { Skeleton, openSkeleton, type SkeletonSource } from './runtime.js';
export type { SkeletonDesc, SkeletonMap, SkeletonSection, MapView } from './layout.js';
