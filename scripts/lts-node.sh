#!/usr/bin/env bash
# The current LTS Node (24) for this host's CPU, from the npm registry's node-linux-<cpu> package (its official
# binary), unpacked into .cache/node-lts, nothing installed: test/package.test.ts installs and runs the packages
# with it as well as with the machine's Node 20 (which went end-of-life in April 2026; users have 24).
# Prints the directory holding bin/node.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
major=24
dest="$root/.cache/node-lts"
cpu=$(node -p process.arch)
if [ ! -x "$dest/bin/node" ] || [ "$("$dest/bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-$cpu@$major" >/dev/null)
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  tar -xzf "$tmp"/node-linux-"$cpu"-*.tgz -C "$dest.tmp" --strip-components=1
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
echo "$dest"
