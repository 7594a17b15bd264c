// cgroups, the low level (BPF_PROG_ATTACH: the cgroup holds the program) and where cgroups are.
// Links (prog.attachCgroup, attachCgroupLink) are the high level: src/link/cgroup.ts.
export { attach, detach, query, list, type CgroupMode, type CgroupAttachOptions, type CgroupHook, type CgroupProgram } from './attach.js';
export { openCgroup, cgroup2Root, cgroup2Mounts, cgroupId, cgroupPath, type CgroupRef, type OpenCgroup } from './ref.js';
export type { CgroupAttachType, CgroupRelative } from '../link/cgroup.js';
