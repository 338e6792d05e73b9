#!/usr/bin/env bash
# Builds the shared container crate and tsbox-runtime with Debian's rustc 1.63,
# for x86_64 and as a static i686 binary: the vm guest agent is built that way,
# so nothing newer than Rust 1.63 may creep into native-rs/container.
set -euo pipefail
cd "$(dirname "$0")/.."
rustc163="$(bash scripts/rust163.sh)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
build() { # target-triple extra-flags...
  local target="$1"; shift
  local dir="$out/$target"; mkdir -p "$dir"
  "$rustc163" --edition 2021 --target "$target" "$@" --crate-type rlib --crate-name container \
    native-rs/container/src/lib.rs --out-dir "$dir"
  "$rustc163" --edition 2021 --target "$target" "$@" --crate-name tsbox_runtime \
    native-rs/runtime/src/main.rs --extern container="$dir/libcontainer.rlib" -L "$dir" -o "$dir/tsbox-runtime"
  echo "rust 1.63 $target: $(stat -c %s "$dir/tsbox-runtime") bytes" >&2
}
build x86_64-unknown-linux-gnu
build i686-unknown-linux-gnu -C target-feature=+crt-static -C linker=i686-linux-gnu-gcc
file "$out/i686-unknown-linux-gnu/tsbox-runtime" 2>/dev/null | grep -q 'statically linked' \
  || [ ! -x /usr/bin/file ] || { echo "i686 tsbox-runtime is not static" >&2; exit 1; }
