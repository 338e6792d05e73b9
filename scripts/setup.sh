#!/usr/bin/env bash
# One-shot, idempotent set-up on a fresh Debian/Ubuntu machine: system
# packages, npm dependencies, the native build (addon + tsbox-runtime), the
# TypeScript build and the embedded busybox image. Safe to run again.
#   scripts/setup.sh            what tsbox needs to run and to be tested
#   scripts/setup.sh --bench    also the peer runtimes bench/ compares against
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> [%s s] %s\033[0m\n' "$SECONDS" "$*" >&2; }
. scripts/apt.sh

# gcc-aarch64-linux-gnu links the linux-arm64-gnu package; qemu-user-static load-checks it (test/package.test.ts).
# passt (pasta) and slirp4netns: rootless networks; iptables: NAT and published ports as root (test/network.test.ts).
# i686: the vm agent and the i386 test probe link with the i686 cross gcc (gcc-multilib conflicts with the
# aarch64 cross compiler, so it cannot serve).
packages=(busybox-static uidmap gcc-i686-linux-gnu libc6-dev-i386-cross docker-registry skopeo umoci zstd mmdebstrap pigz python3 chromium gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static passt slirp4netns iptables)
if [ "${1:-}" = "--bench" ]; then packages+=(crun runc bubblewrap podman hyperfine); fi
command -v cargo >/dev/null 2>&1 || packages+=(cargo rustc)
ensure_packages "system packages" "${packages[@]}"

# Debian's Rust 1.63 (unpacked, not installed) checks the code shared with the
# i686 vm guest agent; its i386 std needs the i386 package lists.
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  as_root dpkg --add-architecture i386
  as_root apt-get update -qq || true
fi
say "fetching Debian's Rust 1.63 toolchain"
bash scripts/rust163.sh >/dev/null

say "fetching an arm64 Node for the linux-arm64-gnu package's load check"
bash scripts/arm64-node.sh >/dev/null

# --- vm backend (issue #4) -------------------------------------------------
# The v86 guest: i386 kernel, initramfs with busybox + tsbox-agent, SeaBIOS
# (vm-images/build.sh), then a boot snapshot (vm-images/snapshot.ts, which needs
# the npm dependencies). Cached by the hash of its inputs: the first build
# takes minutes (the kernel), later runs do nothing. It runs in the background
# beside the steps below, which need none of it; it comes after every step that
# uses apt, so that no two apt runs race on the package lists.
say "building the vm guest image (vm-images/) in the background"
vm_log=$(mktemp)
bash vm-images/build.sh >"$vm_log" 2>&1 &
vm_build=$!
trap '[ -z "$vm_build" ] || kill "$vm_build" 2>/dev/null || true; rm -f "$vm_log"' EXIT
# --------------------------------------------------------------------------

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "building native addon and tsbox-runtime"
npm run --silent build:native >/dev/null
say "building them for linux-arm64-gnu (cross)"
npm run --silent build:native:cross
say "fetching the current LTS Node (24) for the package test"
bash scripts/lts-node.sh >/dev/null
say "building TypeScript"
npm run --silent build:ts
say "building the embedded busybox image"
npm run --silent build:image
say "waiting for the vm guest image"
if ! wait "$vm_build"; then
  cat "$vm_log" >&2
  echo "setup: building the vm guest image failed (vm-images/build.sh; its output is above)" >&2
  exit 1
fi
vm_build=
cat "$vm_log" >&2
# Its snapshot (build.sh finds the image up to date now).
npm run --silent build:vm
say "ready: try  npx tsbox run --rm busybox echo hello"
