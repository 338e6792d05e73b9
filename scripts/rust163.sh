#!/usr/bin/env bash
# Unpacks Debian's Rust 1.63 (rustc + std for x86_64 and i686) into .cache/rust163
# with dpkg -x: no system install, so it never shadows the rustup toolchain.
# Prints the path of the unpacked rustc wrapper.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/rust163"
if [ ! -x "$dest/rustc" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  dpkg --print-foreign-architectures | grep -qx i386 || { dpkg --add-architecture i386 && { apt-get update -qq || true; }; }
  (cd "$tmp" && apt-get download -qq rustc libstd-rust-1.63 libstd-rust-dev libstd-rust-1.63:i386 libstd-rust-dev:i386 >/dev/null)
  mkdir -p "$dest.tmp"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest.tmp/root"; done
  # rustc finds its sysroot relative to its binary, and librustc_driver through LD_LIBRARY_PATH.
  cat > "$dest.tmp/rustc" <<'WRAP'
#!/bin/sh
here="$(dirname "$(readlink -f "$0")")"
LD_LIBRARY_PATH="$here/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/root/usr/bin/rustc" "$@"
WRAP
  chmod +x "$dest.tmp/rustc"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
echo "$dest/rustc"
