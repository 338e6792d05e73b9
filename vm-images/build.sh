#!/usr/bin/env bash
# Builds the vm backend's guest into vm-images/dist/ (see docs/architecture.md, "vm backend"):
#   bzImage         i386 kernel from Debian's linux-source-6.1 (tinyconfig + kernel.config)
#   initramfs.cpio  uncompressed: tsbox-agent as /init (it mounts the guest and serves)
#   bios.bin        SeaBIOS (Debian's seabios)
#   manifest.json   sizes, sha256 digests, the exact Debian package versions used, input hash
# Debian packages come through apt (signature-checked), at whatever version the
# archive has now; the manifest records which. Output is cached by the hash of
# the inputs (this directory, native-rs/agent, native-rs/container): a second
# run with the same inputs does nothing; the kernel (the slow part, ~5-7 min
# on 2 cores) is cached apart, once per machine and user, in
# $TSBOX_CACHE_DIR (default ~/.cache/tsbox)/vm-images by the hash of its own inputs.
#   vm-images/build.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
dist="$root/vm-images/dist"
cache="${TSBOX_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tsbox}/vm-images"
force=0
[ "${1:-}" = "--force" ] && force=1

say() { printf '\033[1m==> vm-images: %s\033[0m\n' "$*" >&2; }
. scripts/apt.sh
hash_files() { # file... -> one sha256 over names and contents
  local f
  for f in "$@"; do printf '%s\0' "${f#"$root"/}"; sha256sum < "$f"; done | sha256sum | cut -c1-64
}

kernel_hash="$(hash_files vm-images/kernel.config vm-images/kernel.sh)"
mapfile -t agent_inputs < <(find native-rs/agent/Cargo.toml native-rs/agent/src native-rs/container/src -type f | LC_ALL=C sort)
input_hash="$( (echo "$kernel_hash"; hash_files vm-images/build.sh vm-images/mkcpio.mjs scripts/build-busybox-image.ts "${agent_inputs[@]}") | sha256sum | cut -c1-64)"

if [ "$force" = 0 ] && [ -f "$dist/manifest.json" ] && grep -q "\"inputHash\": \"$input_hash\"" "$dist/manifest.json" \
  && [ -f "$dist/bzImage" ] && [ -f "$dist/initramfs.cpio" ] && [ -f "$dist/bios.bin" ]; then
  say "up to date ($dist)"
  exit 0
fi

# Build tools for the kernel (the agent uses Debian's rustc 1.63 via scripts/rust163.sh).
ensure_packages "build tools" bc bison flex libelf-dev make gcc xz-utils
dpkg --print-foreign-architectures | grep -qx i386 || { as_root dpkg --add-architecture i386; as_root apt-get update -qq || true; }

mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt's download sandbox user must be able to write here

say "fetching Debian packages"
packages=(linux-source-6.1 seabios busybox-static:i386)
if ! (cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1); then
  as_root apt-get update -qq || true
  (cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null)
fi
deb_version() { dpkg-deb -f "$(ls "$work"/"$1"_*.deb)" Version; }
v_linux="$(deb_version linux-source-6.1)"
v_seabios="$(deb_version seabios)"
v_busybox="$(deb_version busybox-static)"
for p in linux-source-6.1 seabios busybox-static; do dpkg-deb -x "$(ls "$work"/"$p"_*.deb)" "$work/x-$p"; done

kdir="$cache/kernel-$kernel_hash"
if [ ! -f "$kdir/bzImage" ] || [ "$(cat "$kdir/linux-source-version" 2>/dev/null)" != "$v_linux" ]; then
  say "building the kernel from linux-source-6.1 $v_linux (takes a few minutes)"
  rm -rf "$kdir.tmp"
  bash vm-images/kernel.sh "$(ls "$work"/x-linux-source-6.1/usr/src/linux-source-*.tar.xz)" "$kdir.tmp"
  echo "$v_linux" > "$kdir.tmp/linux-source-version"
  rm -rf "$kdir" && mv "$kdir.tmp" "$kdir"
  # Older kernels of this cache are of no use any more.
  find "$cache" -maxdepth 1 -name 'kernel-*' ! -name "kernel-$kernel_hash" -exec rm -rf {} +
else
  say "kernel: cached ($kdir)"
fi

say "building tsbox-agent (static i686, Debian rustc 1.63)"
rustc163="$(bash scripts/rust163.sh)"
v_rustc="$("$rustc163" --version)"
# Speed over size: the agent's own work (JSON, spec, seccomp) is part of every container's
# set-up under emulation: opt-level=2 runs a round trip in 12% fewer guest instructions than
# opt-level=s, for 2.1 MB instead of 1.4 MB unpacked at each cold boot (docs/architecture.md).
rflags=(--edition 2021 --target i686-unknown-linux-gnu -C opt-level=2 -C panic=abort -C lto=fat -C codegen-units=1
  -C target-feature=+crt-static -C strip=symbols -C linker=i686-linux-gnu-gcc)
"$rustc163" "${rflags[@]}" --crate-type rlib --crate-name container native-rs/container/src/lib.rs --out-dir "$work/rust"
"$rustc163" "${rflags[@]}" --crate-name tsbox_agent native-rs/agent/src/main.rs \
  --extern container="$work/rust/libcontainer.rlib" -L "$work/rust" -o "$work/tsbox-agent"

say "assembling the initramfs"
bb="$work/x-busybox-static/bin/busybox"
# Only the agent: it is the guest's init too (native-rs/agent/src/guest_init.rs).
# Every byte here is unpacked by the emulated kernel at each cold boot.
{
  echo "dir /dev 755"; echo "nod /dev/console 600 c 5 1"; echo "nod /dev/null 666 c 1 3"
  echo "file /init $work/tsbox-agent 755"
} > "$work/cpio.list"
node vm-images/mkcpio.mjs "$work/cpio.list" "$work/initramfs.cpio"

say "writing $dist"
rm -rf "$dist.tmp"
mkdir -p "$dist.tmp"
cp "$kdir/bzImage" "$dist.tmp/bzImage"
cp "$kdir/config" "$dist.tmp/kernel.config"
cp "$work/initramfs.cpio" "$dist.tmp/initramfs.cpio"
cp "$work/x-seabios/usr/share/seabios/bios.bin" "$dist.tmp/bios.bin"
cp "$work/tsbox-agent" "$dist.tmp/tsbox-agent"
# The busybox image for vm containers (linux/386), from the same busybox.
node --import tsx scripts/build-busybox-image.ts --arch 386 --busybox "$bb" --out "$dist.tmp/images/busybox" >/dev/null
INPUT_HASH="$input_hash" KERNEL_HASH="$kernel_hash" V_LINUX="$v_linux" V_SEABIOS="$v_seabios" V_BUSYBOX="$v_busybox" V_RUSTC="$v_rustc" \
node - "$dist.tmp" <<'JS'
const { createHash } = require("node:crypto");
const { readFileSync, writeFileSync, statSync } = require("node:fs");
const { join } = require("node:path");
const dir = process.argv[2];
const e = process.env;
const files = {};
for (const name of ["bzImage", "initramfs.cpio", "bios.bin", "tsbox-agent", "kernel.config"]) {
  const data = readFileSync(join(dir, name));
  files[name] = { size: statSync(join(dir, name)).size, sha256: createHash("sha256").update(data).digest("hex") };
}
// The guest image's identity: a snapshot is valid only for the same one.
const imageId = createHash("sha256").update(files.bzImage.sha256 + files["initramfs.cpio"].sha256 + files["bios.bin"].sha256).digest("hex");
const manifest = {
  inputHash: e.INPUT_HASH,
  kernelHash: e.KERNEL_HASH,
  imageId,
  arch: "386",
  packages: { "linux-source-6.1": e.V_LINUX, seabios: e.V_SEABIOS, "busybox-static:i386": e.V_BUSYBOX, rustc: e.V_RUSTC },
  files,
};
writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
JS
rm -rf "$dist.old"
[ -d "$dist" ] && mv "$dist" "$dist.old"
mv "$dist.tmp" "$dist"
rm -rf "$dist.old"
say "done: $(du -sh "$dist" | cut -f1) in $dist"
