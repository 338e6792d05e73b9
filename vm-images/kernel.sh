#!/usr/bin/env bash
# Builds the guest kernel from Debian's linux-source-6.1:
#   make ARCH=i386 tinyconfig + kernel.config (merge_config.sh) + olddefconfig
# and checks that every option of kernel.config survived.
#   vm-images/kernel.sh SOURCE.tar.xz OUTDIR      (writes OUTDIR/bzImage, OUTDIR/config)
# About 5-7 minutes on 2 cores. Called by build.sh, which caches the result
# by the hash of kernel.config and this script.
set -euo pipefail
src_tar="$1"
outdir="$2"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tsbox-kernel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar -xf "$src_tar" -C "$work"
cd "$work"/linux-source-*
# Reproducible: no build host, user or time in the image.
export KBUILD_BUILD_USER=tsbox KBUILD_BUILD_HOST=tsbox KBUILD_BUILD_TIMESTAMP="1970-01-01" KBUILD_BUILD_VERSION=1
make -s ARCH=i386 tinyconfig >/dev/null
./scripts/kconfig/merge_config.sh -m .config "$here/kernel.config" >/dev/null 2>&1
make -s ARCH=i386 olddefconfig >/dev/null
missing=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  key="${line%%=*}"; value="${line#*=}"
  if [ "$value" = n ]; then
    if grep -q "^$key=" .config; then echo "kernel.sh: $key is set, kernel.config wants it off" >&2; missing=1; fi
  elif ! grep -qx "$line" .config; then
    echo "kernel.sh: $line did not survive olddefconfig (got: $(grep "^$key=\|$key is not set" .config || echo nothing))" >&2; missing=1
  fi
done < "$here/kernel.config"
[ "$missing" = 0 ] || { echo "kernel.sh: fix vm-images/kernel.config (dependencies?)" >&2; exit 1; }
make -s ARCH=i386 -j"$(nproc)" bzImage >/dev/null
mkdir -p "$outdir"
cp arch/x86/boot/bzImage "$outdir/bzImage"
cp .config "$outdir/config"
