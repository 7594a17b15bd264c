#!/usr/bin/env bash
# Installs what the guest-kernel runner (scripts/vm) needs on a Debian 12 host: QEMU with the
# C virtiofsd (qemu-system-common) and a static busybox for the guest's initramfs. Idempotent.
set -euo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null && [ -x /usr/lib/qemu/virtiofsd ] || need+=(qemu-system-x86)
file_is_static() {
  [ -f "$1" ] || return 1
  case "$(LC_ALL=C ldd "$1" 2>&1)" in *'not a dynamic'*) return 0 ;; *) return 1 ;; esac
}
file_is_static /bin/busybox || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tsbpf setup-vm: missing ${need[*]}; run as root (or: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "tsbpf setup-vm: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
