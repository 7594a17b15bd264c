#!/usr/bin/env bash
# Installs what the guest-kernel runner (scripts/vm) needs on a Debian 12 host: QEMU with the
# C virtiofsd (qemu-system-common) and a static busybox for the guest's initramfs. Idempotent.
set -euo pipefail
. "$(dirname "$0")/apt-need.sh"
need=()
command -v qemu-system-x86_64 >/dev/null && [ -x /usr/lib/qemu/virtiofsd ] || need+=(qemu-system-x86)
file_is_static() {
  [ -f "$1" ] || return 1
  case "$(LC_ALL=C ldd "$1" 2>&1)" in *'not a dynamic'*) return 0 ;; *) return 1 ;; esac
}
file_is_static /bin/busybox || need+=(busybox-static)
APT_OPTS=(--no-install-recommends)
apt_install_needed setup-vm "${need[@]}"
