#!/usr/bin/env bash
# The whole test suite: type check, Rust unit tests, the Rust 1.63 build of the
# shared container crate (the vm guest agent's compiler), and the node:test
# suites that run real containers as root and as an unprivileged user.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build:ts

# The test users, made once here: the two lanes below would race to create them.
node --import tsx -e 'const m = await import("./test/helpers/identities.ts"); m.identities(); m.cleanupIdentities();'

# Two lanes at once: the vm backend and the browser (the emulator keeps a core
# busy) a file at a time, then the static checks, beside the native suites two
# files at a time (stop 65: the checks came after the vm files, below; stop 42, one file at a time in each and the checks first:
# native 28.7 min, vm 25.5, 33 in all; stop 43: checks and native 25 min, vm
# 27.1, 27.3 in all, so the fuzzers and the parsers' hostile-input files, ≈ 2
# min, came back to the native lane: 25.4 min in all). Nothing is shared between test files: each test process has its own
# users' dirs and cgroup parent, containers get only lo (a root bridge would be
# made in the machine's own network namespace; network.test.ts uses namespaces
# of its own), and each file's temp files go to a TMPDIR of its own, so its
# leak checks see only its own work (helpers/leaks.ts). The files that rebuild
# or pack the browser bundles are all in the vm lane.
# A vm run's guest is its own and ends with it (no daemon started on demand, which would outlive a
# test's leak check); test/vm.test.ts covers the shared guest with TSBOX_VM_IDLE of its own.
export TSBOX_VM_IDLE=${TSBOX_VM_IDLE:-0}
# The same for the nest holder of rootless runs (test/nest-holder.test.ts sets its own).
export TSBOX_NEST_IDLE=${TSBOX_NEST_IDLE:-0}
shopt -s nullglob
# (test/api.test.ts is the native backend's library API: in the native lane since stop 46, the vm lane being the
# longer one — stop 45: vm 21.2 min, native 13.3 min after the checks.)
vm_lane=(test/vm*.test.ts test/web.test.ts test/security-vm.test.ts test/api-contract.test.ts test/package.test.ts)
native_lane=()
for f in test/*.test.ts; do
  [[ " ${vm_lane[*]} " == *" $f "* ]] || native_lane+=("$f")
done
# Each lane's temp files (and what a test mounts there) in a dir of its own.
native_tmp=$(mktemp -d /tmp/tsbox-scratch-lane-XXXXXX)
vm_tmp=$(mktemp -d /tmp/tsbox-scratch-lane-XXXXXX)
chmod 1777 "$native_tmp" "$vm_tmp"
vm_log="$vm_tmp.log"
native_log="$native_tmp.log"
checks_log="$native_tmp.checks.log"
checks_out="$vm_tmp.checks.out"
checks_status_file="$vm_tmp.checks.status"
vm_status_file="$vm_tmp.status"
trap 'rm -rf "$native_tmp" "$vm_tmp" "$vm_log" "$native_log" "$checks_log" "$checks_out" "$checks_status_file" "$vm_status_file"' EXIT
# A hung file fails after 20 minutes (each file runs as one test) instead of stalling CI. The native lane's
# files mostly wait (on timeouts, stops, restarts; stop 43: 120 s of CPU in 280 s of lifecycle.test.ts), so it
# runs two at once; the vm lane's emulator keeps a core busy, one guest at a time.
run_lane() { node --import tsx --import ./test/helpers/file-tmpdir.ts --test --test-timeout=1200000 "$@"; }
# The static checks (they need no guest) come after the vm lane's files, in its background job: with them first the
# native lane waited for them and was the longer path (stop 64: checks ≈ 150 s + native 21.7 min against vm 22.3);
# the vm lane now ends first. Each failure is counted at the end, its output kept to be printed again there.
check() {
  local title=$1
  shift
  echo "# $title"
  local out
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    echo 1 >"$checks_status_file"
    { echo "## $title failed:"; tail -n 150 "$out"; } >>"$checks_log"
  fi
  cat "$out"
  rm -f "$out"
}
echo "# vm lane (${#vm_lane[@]} files), then the static checks, in the background; their reports follow the native lane's" >&2
(
  status=0
  TMPDIR="$vm_tmp" run_lane "${vm_lane[@]}" >"$vm_log" 2>&1 || status=$?
  echo "$status" >"$vm_status_file"
  echo 0 >"$checks_status_file"
  {
    check "tsc --noEmit" npx tsc --noEmit
    # Unoptimised: builds in less than half the time, and overflow checks stay on.
    check "cargo test (dev profile)" cargo test --quiet --manifest-path native-rs/Cargo.toml
    check "Rust 1.63 build of native-rs/container + runtime (x86_64 and static i686)" bash scripts/check-rust163.sh
  } >"$checks_out" 2>&1
) &
vm_pid=$!
native_status=0
TMPDIR="$native_tmp" run_lane --test-concurrency=2 "${native_lane[@]}" | tee "$native_log" || native_status=$?
wait "$vm_pid" || true
vm_status=$(cat "$vm_status_file" 2>/dev/null || echo 1)
checks_status=$(cat "$checks_status_file" 2>/dev/null || echo 1)
echo "# vm lane:" >&2
cat "$vm_log"
echo "# static checks:" >&2
cat "$checks_out" 2>/dev/null || true
# The failures again, last, with their diagnostics: a CI log is often read from its end only.
# (head closing the pipe early is no failure: under pipefail and -e it ended the script before its summary)
failures() { awk '/^ *not ok /{n=60} n>0{print; n--}' "$1" | head -400 || true; }
if [ -s "$checks_log" ]; then echo "# static check failures:" >&2; cat "$checks_log"; fi
for lane in native vm; do
  log_var="${lane}_log"
  if grep -q '^ *not ok ' "${!log_var}"; then echo "# $lane lane failures:" >&2; failures "${!log_var}"; fi
done
echo "# static checks exited $checks_status, native lane $native_status, vm lane $vm_status" >&2
[ "$checks_status" -eq 0 ] && [ "$native_status" -eq 0 ] && [ "$vm_status" -eq 0 ]
