#!/usr/bin/env bash
# An arm64 Node (Debian's nodejs:arm64 with its libraries, unpacked into
# .cache/arm64-node, nothing installed) for test/package.test.ts to load the
# linux-arm64-gnu package's addon under qemu-user (qemu-aarch64-static -L).
# Prints the directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/arm64-node"
if [ ! -x "$dest/usr/bin/node" ]; then
  rm -rf "$dest.tmp"
  bash "$root/scripts/arm64-debs.sh" "$dest.tmp" nodejs:arm64 libnode108:arm64 libuv1:arm64 libicu72:arm64 libssl3:arm64 \
    libbrotli1:arm64 libc-ares2:arm64 libnghttp2-14:arm64 zlib1g:arm64 libstdc++6:arm64 libgcc-s1:arm64 libc6:arm64 \
    node-cjs-module-lexer node-acorn node-undici
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
echo "$dest"
