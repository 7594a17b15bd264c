# Sourced by the setup scripts: `apt_install_needed WHO PACKAGE...` installs the Debian packages
# named (the ones a check found missing), or explains what to run when not root. Extra
# apt-get options come from the array APT_OPTS (setup-vm skips QEMU's GUI recommendations).
apt_install_needed() {
  local who=$1
  shift
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "tsbpf $who: missing $*; run as root (or: apt-get install $*)" >&2
    exit 1
  fi
  echo "tsbpf $who: installing $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq ${APT_OPTS[@]+"${APT_OPTS[@]}"} "$@" >/dev/null
}
