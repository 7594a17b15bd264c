// examples/core.ts: the CO-RE relocations give this kernel's task_struct layout, and the
// program, run in the example's own context, reads that process's pid, parent and comm.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isRoot, runExample } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/core.ts', () => {
  it("relocates to the running kernel's task_struct and reads the current task", () => {
    const r = runExample('core');
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.agree).toBe(true);
    // What clang compiled: the example's own four-field struct.
    expect(out.compiled).toEqual({ size: 32, pid: 0, tgid: 4, comm: 8, real_parent: 24 });
    expect(out.relocated).toEqual(out.kernel);
    // Checked here too, without the example's parser.
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { maxBuffer: 1 << 28, encoding: 'utf8' });
    expect(out.relocated.size).toBe(Number(/^\[\d+\] STRUCT 'task_struct' size=(\d+)/m.exec(dump)![1]));
    expect(out.relocated).toMatchObject({ commSize: 16, hasNewState: true, hasOldState: false }); // 6.18: `__state` since 5.14
    // The example runs in a node process whose parent is the tsx process this test started.
    expect(out.read.parentTgid).toBe(r.pid);
    expect(out.read.pid).toBe(out.read.tgid);
    expect(out.read.pid).not.toBe(r.pid);
    expect(out.read).toEqual(out.expectedTask);
    expect(out.read.state).toBe(0);
    expect(r.stdout).toMatch(/every relocated value matches the kernel/);
  });
});
