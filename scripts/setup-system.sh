#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for tsbpf's demo, tests and benchmarks, and
# mounts bpffs. Idempotent: skips what is already there.
set -euo pipefail
. "$(dirname "$0")/apt-need.sh"
need=()
command -v clang-19 >/dev/null || need+=(clang-19)
command -v llvm-objdump-19 >/dev/null || need+=(llvm-19)
command -v bpftool >/dev/null || need+=(bpftool)
command -v xdp-loader >/dev/null || need+=(xdp-tools)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nc >/dev/null || need+=(netcat-openbsd)
[ -f /usr/include/bpf/bpf.h ] || need+=(libbpf-dev)
command -v gcc >/dev/null || need+=(gcc)
apt_install_needed setup "${need[@]}"
if [ "$(id -u)" = 0 ] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
# Tracepoints are found in tracefs (their ids): mount it where tools look first.
if [ "$(id -u)" = 0 ] && ! grep -q ' tracefs ' /proc/self/mounts && [ -d /sys/kernel/tracing ]; then
  mount -t tracefs nodev /sys/kernel/tracing
fi
