#!/usr/bin/env bash
# Unpacks Debian arm64 packages into DEST with dpkg -x (no system install, no
# `dpkg --add-architecture`): apt downloads them through package lists made
# with arm64 added for this one call, so they are signature- and hash-checked
# like any apt download.
#   scripts/arm64-debs.sh DEST PACKAGE[:arm64]...
set -euo pipefail
dest="$1"; shift
. "$(dirname "$0")/apt.sh"
arch_opts=(-o APT::Architectures::=amd64 -o APT::Architectures::=i386 -o APT::Architectures::=arm64)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's download sandbox user must be able to write here
if ! (cd "$tmp" && apt-get download -qq "${arch_opts[@]}" "$@" >/dev/null 2>&1); then
  # A mirror mid-sync can fail one index; what we need still resolves.
  as_root apt-get update -qq "${arch_opts[@]}" >/dev/null 2>&1 || true
  (cd "$tmp" && apt-get download -qq "${arch_opts[@]}" "$@" >/dev/null)
fi
mkdir -p "$dest"
for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest"; done
