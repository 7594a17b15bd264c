// The guest's initramfs: static busybox, the few modules needed to reach the host's files
// (virtio PCI, virtiofs, overlayfs; built into some kernels), and an /init that mounts the
// host's / read-write through virtiofs under a tmpfs overlay (the guest may write anywhere;
// nothing but the run directory reaches the host), then switches root and runs the command.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { moduleLoadOrder, type Kernel } from './kernels.js';

/** Modules the guest needs before it can see the host; the rest load on demand (modprobe). */
const BOOT_MODULES = ['virtio_pci', 'virtiofs', 'overlay'];

interface Entry {
  name: string;
  mode: number;
  data?: Uint8Array;
}

/** A cpio "newc" archive (the format the kernel unpacks as an initramfs). */
export function cpioNewc(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(`${e.name}\0`);
    const fields = [ino++, e.mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map(hex).join('')}`);
    parts.push(header, name, pad(header.length + name.length), Buffer.from(data), pad(data.length));
  }
  return Buffer.concat(parts);
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * The guest's /init, a busybox shell script. The kernel command line carries `tsbpf.run=DIR`,
 * a directory of the host (seen through virtiofs) holding `cmd.sh`; the command's output goes
 * through a pipe (so that tools see no terminal and print plain lines) to the second serial
 * port (the runner's stdout), its exit status to DIR/status. Kernel
 * messages stay on the first serial port (the console log the runner keeps for failures).
 */
function initScript(k: Kernel, modules: readonly string[]): string {
  const modDir = `${k.modulesRoot}/lib/modules/${k.release}`;
  return `#!/bin/busybox sh
B=/bin/busybox
fail() { echo "tsbpf-vm init: $*" > /dev/ttyS0; $B sync; $B poweroff -f; }
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in ${modules.map((m) => basename(m)).join(' ')}; do $B insmod /modules/$m || fail "insmod $m failed"; done
RUN=
for a in $($B cat /proc/cmdline); do case "$a" in tsbpf.run=*) RUN="\${a#tsbpf.run=}";; esac; done
[ -n "$RUN" ] || fail "no tsbpf.run= on the kernel command line"
$B mkdir -p /host /ovl /newroot
$B mount -t virtiofs host /host || fail "cannot mount the host's files (virtiofs)"
$B mount -t tmpfs -o mode=755 ovl /ovl
$B mkdir -p /ovl/upper /ovl/work
$B mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work /newroot || fail "overlay mount failed"
N=/newroot
$B mount -t proc proc $N/proc
$B mount -t sysfs sys $N/sys
$B mount -t devtmpfs dev $N/dev
$B mkdir -p $N/dev/pts $N/dev/shm
$B mount -t devpts devpts $N/dev/pts
$B mount -t tmpfs shm $N/dev/shm
$B mount -t tmpfs run $N/run
$B mount -t bpf bpf $N/sys/fs/bpf
$B mount -t tracefs tracefs $N/sys/kernel/tracing
$B mount -t debugfs debugfs $N/sys/kernel/debug
$B mount -t cgroup2 cgroup2 $N/sys/fs/cgroup
$B mkdir -p $N/run/vm $N/lib/modules/${k.release} $N/.tsbpf-vm
$B mount --bind /host$RUN $N/run/vm
$B mount --bind /host${modDir} $N/lib/modules/${k.release}
# The kernel's configuration where libbpf and tsbpf look for it (kconfig externs).
$B mkdir -p $N/boot
$B cp /host${k.modulesRoot}/boot/config-${k.release} $N/boot/
$B cp /bin/busybox $N/.tsbpf-vm/busybox
$B ln -s busybox $N/.tsbpf-vm/modprobe
echo /.tsbpf-vm/modprobe > /proc/sys/kernel/modprobe
$B umount /proc /sys /dev
exec $B switch_root /newroot /.tsbpf-vm/busybox sh -c '
B=/.tsbpf-vm/busybox
$B hostname tsbpf-vm
$B ip link set lo up
$B stty -F /dev/ttyS1 raw -echo
$B cut -d" " -f1 /proc/uptime > /run/vm/started
{ /bin/sh /run/vm/cmd.sh < /dev/null; echo $? > /run/vm/status; } 2>&1 | $B cat > /dev/ttyS1
$B sync
$B poweroff -f
'
`;
}

/** The initramfs for a kernel, gzip-compressed. */
export function buildInitramfs(k: Kernel): Buffer {
  const modules = moduleLoadOrder(k, BOOT_MODULES);
  const entries: Entry[] = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync('/bin/busybox') },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    { name: 'dev', mode: S_IFDIR | 0o755 },
    { name: 'proc', mode: S_IFDIR | 0o755 },
    { name: 'sys', mode: S_IFDIR | 0o755 },
    { name: 'modules', mode: S_IFDIR | 0o755 },
    ...modules.map((m) => ({ name: `modules/${basename(m)}`, mode: S_IFREG | 0o644, data: readFileSync(m) })),
    { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(initScript(k, modules)) },
  ];
  return gzipSync(cpioNewc(entries), { level: 1 });
}
