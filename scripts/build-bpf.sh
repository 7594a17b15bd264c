#!/usr/bin/env bash
# Builds the BPF C sources of the given directories (default: bpf, test/fixtures and examples/bpf)
# into .o files next to them, with clang-19 -O2 -g -target bpf -mcpu=v3.
#
#   scripts/build-bpf.sh [--check] [dir...]
#
# --check rebuilds into a temporary directory and fails if any committed .o differs (or is
# missing): CI uses it to catch sources and objects drifting apart.
#
# The output must not depend on where the checkout lives: sources are compiled from inside
# their directory by relative name, and -fdebug-compilation-dir=. keeps the absolute path out
# of DWARF and BTF. clang writes no timestamps, so two builds are byte-identical.
# A source may add flags with a line `// build-bpf-flags: <flags>` (e.g. -g0 for no BTF).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
check=0
dirs=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "build-bpf.sh: unknown option $arg" >&2; exit 2 ;;
    *) dirs+=("$arg") ;;
  esac
done
if [ ${#dirs[@]} -eq 0 ]; then
  for d in bpf test/fixtures examples/bpf; do
    [ -d "$root/$d" ] && dirs+=("$root/$d")
  done
fi

CLANG="${CLANG:-clang-19}"
if ! command -v "$CLANG" >/dev/null; then
  echo "build-bpf.sh: $CLANG not found (apt-get install clang-19)" >&2
  exit 1
fi
multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"

tmp=""
if [ $check -eq 1 ]; then
  tmp="$(mktemp -d /tmp/build-bpf.XXXXXX)"
  trap 'rm -rf "$tmp"' EXIT
fi

status=0
built=0
for dir in "${dirs[@]}"; do
  dir="$(cd "$dir" && pwd)"
  shopt -s nullglob
  sources=("$dir"/*.c)
  shopt -u nullglob
  for src in "${sources[@]}"; do
    base="$(basename "$src" .c)"
    extra="$(sed -n 's|^// build-bpf-flags: *||p' "$src" | head -n1)"
    incl=(-I "/usr/include/$multiarch")
    [ -d "$dir/include" ] && incl+=(-I include)
    if [ $check -eq 1 ]; then
      out="$tmp/$(echo "$dir" | tr / _)_$base.o"
    else
      out="$dir/$base.o"
    fi
    # shellcheck disable=SC2086
    (cd "$dir" && "$CLANG" -O2 -g -target bpf -mcpu=v3 -fdebug-compilation-dir=. \
      "${incl[@]}" $extra -c "$base.c" -o "$out")
    built=$((built + 1))
    if [ $check -eq 1 ]; then
      if [ ! -f "$dir/$base.o" ]; then
        echo "build-bpf.sh: $dir/$base.o is missing (run scripts/build-bpf.sh and commit it)" >&2
        status=1
      elif ! cmp -s "$out" "$dir/$base.o"; then
        echo "build-bpf.sh: $dir/$base.o differs from a fresh build of $base.c (run scripts/build-bpf.sh and commit it)" >&2
        status=1
      fi
    fi
  done
done
if [ $check -eq 1 ] && [ $status -eq 0 ]; then echo "build-bpf.sh: $built objects match their sources"; fi
exit $status
