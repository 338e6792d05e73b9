#!/usr/bin/env bash
# The whole test suite: type check, Rust unit tests, the Rust 1.63 build of the
# shared container crate (the vm guest agent's compiler), and the node:test
# suites that run real containers as root and as an unprivileged user.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# tsc --noEmit" >&2
npx tsc --noEmit
echo "# cargo test (dev profile)" >&2
# Unoptimised: builds in less than half the time, and overflow checks stay on.
cargo test --quiet --manifest-path native-rs/Cargo.toml 2>&1
echo "# Rust 1.63 build of native-rs/container + runtime (x86_64 and static i686)" >&2
bash scripts/check-rust163.sh
npm run --silent build:ts
# A hung file fails after 20 minutes (each file runs as one test) instead of stalling CI.
node --import tsx --test --test-timeout=1200000 test/*.test.ts
