#!/usr/bin/env bash
# Builds the native package's parts for linux-arm64-gnu on this x86_64 host:
# tsbox-runtime and the addon, with Debian's rustc 1.63 (scripts/rust163.sh;
# native-rs has no crates and stays 1.63-clean for the vm agent anyway), its
# aarch64 std (libstd-rust-dev:arm64, unpacked beside it) and Debian's cross
# linker (gcc-aarch64-linux-gnu). Outputs, as napi/cargo would name them:
#   native-rs/target/aarch64-unknown-linux-gnu/release/tsbox-runtime
#   native-rs/target/aarch64-unknown-linux-gnu/release/tsbox-init (static)
#   native-rs/dist/tsbox-native.linux-arm64-gnu.node
# Not runnable here; test/package.test.ts load-checks them under qemu-user.
# Does nothing when both are newer than their sources (--force rebuilds).
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
rustc163="$(bash scripts/rust163.sh)"
sysroot="$(dirname "$rustc163")/root"
if [ ! -d "$sysroot/usr/lib/rustlib/$target/lib" ]; then
  bash scripts/arm64-debs.sh "$sysroot" libstd-rust-1.63:arm64 libstd-rust-dev:arm64
fi
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "build-native-cross: aarch64-linux-gnu-gcc missing: apt-get install gcc-aarch64-linux-gnu (scripts/setup.sh does)" >&2; exit 1; }
out="native-rs/target/$target/release"
addon=native-rs/dist/tsbox-native.linux-arm64-gnu.node
mkdir -p "$out" native-rs/dist
if [ -f "$out/tsbox-runtime" ] && [ -f "$out/tsbox-init" ] && [ -f "$addon" ] && [ "${1:-}" != "--force" ] \
  && [ -z "$(find native-rs/container native-rs/runtime native-rs/addon scripts/build-native-cross.sh -newer "$out/tsbox-runtime" -type f | head -1)" ] \
  && [ -z "$(find native-rs/container native-rs/addon -newer "$addon" -type f | head -1)" ]; then
  echo "linux-arm64-gnu: up to date" >&2
  exit 0
fi
# The release profile of native-rs/Cargo.toml: opt-level 3, fat LTO, one codegen unit, stripped.
flags=(--edition 2021 --target "$target" -C opt-level=3 -C codegen-units=1 -C linker=aarch64-linux-gnu-gcc)
"$rustc163" "${flags[@]}" --crate-type rlib --crate-name container native-rs/container/src/lib.rs --out-dir "$out"
"$rustc163" "${flags[@]}" -C lto=fat -C strip=symbols --crate-name tsbox_runtime native-rs/runtime/src/main.rs \
  --extern container="$out/libcontainer.rlib" -L "$out" -o "$out/tsbox-runtime"
# Static, like the host's (package.json build:native): it runs on the image's root, without its libc.
"$rustc163" "${flags[@]}" -C lto=fat -C strip=symbols -C target-feature=+crt-static --crate-name tsbox_init native-rs/init/src/main.rs \
  --extern container="$out/libcontainer.rlib" -L "$out" -o "$out/tsbox-init"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' native-rs/addon/Cargo.toml | head -1)" # what cargo gives env!("CARGO_PKG_VERSION")
CARGO_PKG_VERSION="$version" "$rustc163" "${flags[@]}" -C lto=fat -C strip=symbols --crate-type cdylib \
  --crate-name tsbox_native native-rs/addon/src/lib.rs --extern container="$out/libcontainer.rlib" -L "$out" -o "$addon"
echo "linux-arm64-gnu: tsbox-runtime $(stat -c %s "$out/tsbox-runtime") bytes, addon $(stat -c %s "$addon") bytes" >&2
