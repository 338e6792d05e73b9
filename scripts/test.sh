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
vm_seconds_file="$vm_tmp.seconds"
diagnostics_log="$native_tmp.diagnostics.log"
trap 'rm -rf "$native_tmp" "$vm_tmp" "$vm_log" "$native_log" "$checks_log" "$checks_out" "$checks_status_file" "$vm_status_file" "$vm_seconds_file" "$diagnostics_log"' EXIT
# A hung test fails after 20 minutes (--test-timeout; a test file's process inherits it as a whole too) instead of
# stalling CI. The native lane's files mostly wait (on timeouts, stops, restarts; stop 43: 120 s of CPU in 280 s of
# lifecycle.test.ts), so it runs two at once; the vm lane's emulator keeps a core busy, one guest at a time.
# Each lane's output goes to a file, never a pipe: a process a test left behind holding a lane's output cannot keep
# the script waiting (stop 67's CI outlived its 90 minutes after the native lane's summary, printing nothing more).
start_lane() { node --import tsx --import ./test/helpers/file-tmpdir.ts --test --test-timeout=1200000 "$@" & }
# The whole run's deadline (seconds since the epoch): .ci/run passes its own, 5 minutes before CI's limit; by hand,
# 80 minutes from now. A lane still running then is ended, with what it was running printed.
deadline=${TSBOX_TEST_DEADLINE:-$(( $(date +%s) + 80 * 60 ))}
# The processes a lane started, wherever they went (setsid, another user): each carries the lane's TMPDIR.
lane_processes() {
  local e pid
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    tr '\0' '\n' 2>/dev/null <"$e" | grep -qE "^TMPDIR=$1(/|\$)" && echo "$pid"
  done
  true
}
show_and_kill() {
  local pids
  pids=$(lane_processes "$1" | paste -sd, -)
  [ -n "$pids" ] || return 0
  ps -o pid,ppid,user,etimes,stat,args -p "$pids" 2>/dev/null | cut -c1-220 || true
  # shellcheck disable=SC2086
  kill -KILL ${pids//,/ } 2>/dev/null || true
}
running() { local state; state=$(ps -o stat= -p "$1") && [[ $state != Z* ]]; }
# end_lane PID TMP WHY: says why, shows and ends the lane's processes (its runner among them), and reaps the runner.
end_lane() {
  { echo "$3"; show_and_kill "$2"; } | tee -a "$diagnostics_log" >&2
  wait "$1" 2>/dev/null || true
}
# supervise NAME PID LOG TMP: waits for a lane's runner and returns its status. A runner that printed its summary
# and is still there a minute later is held by something a test left: that is printed and ended, and the summary's
# counts decide. At the deadline the lane ends, failed.
supervise() {
  local name=$1 pid=$2 log=$3 tmp=$4 summary_at=0 now
  while running "$pid"; do
    now=$(date +%s)
    if [ "$now" -ge "$deadline" ]; then
      end_lane "$pid" "$tmp" "# $name lane: still running at the deadline, after $(( now - started_at )) s; its processes (ended now):"
      return 1
    fi
    if [ "$summary_at" = 0 ] && grep -q '^# duration_ms' "$log"; then summary_at=$now; fi
    if [ "$summary_at" != 0 ] && [ $(( now - summary_at )) -ge 60 ]; then
      end_lane "$pid" "$tmp" "# $name lane: its runner printed its summary a minute ago and has not exited; what holds it (ended now):"
      grep -q '^# fail 0$' "$log" && grep -q '^# cancelled 0$' "$log"
      return
    fi
    sleep 5
  done
  wait "$pid"
}
started_at=$(date +%s)
# The static checks (they need no guest) come after the vm lane's files, in its background job: with them first the
# native lane waited for them and was the longer path (stop 64: checks ≈ 150 s + native 21.7 min against vm 22.3);
# the vm lane now ends first. Each failure is counted at the end, its output kept to be printed again there.
check() {
  local title=$1
  shift
  echo "# $title"
  local out
  out=$(mktemp)
  local left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 0 ] || left=1 # (timeout 0 would mean none)
  if ! timeout --kill-after=10 "$left" "$@" >"$out" 2>&1; then
    echo 1 >"$checks_status_file"
    { echo "## $title failed:"; tail -n 150 "$out"; } >>"$checks_log"
  fi
  cat "$out"
  rm -f "$out"
}
echo "# vm lane (${#vm_lane[@]} files), then the static checks, in the background; their reports follow the native lane's" >&2
(
  status=0
  TMPDIR="$vm_tmp" start_lane "${vm_lane[@]}" >"$vm_log" 2>&1
  supervise vm $! "$vm_log" "$vm_tmp" || status=$?
  echo "$status" >"$vm_status_file"
  echo "$(( $(date +%s) - started_at ))" >"$vm_seconds_file"
  echo 0 >"$checks_status_file"
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo 1 >"$checks_status_file"
    echo "## the static checks did not run: the deadline had passed" >>"$checks_log"
    exit
  fi
  {
    check "tsc --noEmit" npx tsc --noEmit
    # Unoptimised: builds in less than half the time, and overflow checks stay on.
    check "cargo test (dev profile)" cargo test --quiet --manifest-path native-rs/Cargo.toml
    check "Rust 1.63 build of native-rs/container + runtime (x86_64 and static i686)" bash scripts/check-rust163.sh
  } >"$checks_out" 2>&1
) &
vm_pid=$!
native_status=0
TMPDIR="$native_tmp" start_lane --test-concurrency=2 "${native_lane[@]}" >"$native_log" 2>&1
native_runner=$!
# The native lane's report as it comes (tail ends with the runner).
tail -n +1 -f --pid="$native_runner" "$native_log" &
native_tail=$!
supervise native "$native_runner" "$native_log" "$native_tmp" || native_status=$?
native_seconds=$(( $(date +%s) - started_at ))
wait "$native_tail" || true
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
# Whatever a lane's tests left running is a leak their own checks missed: shown, and ended, so that it cannot hold
# the caller's output open either.
for lane in native vm; do
  tmp_var="${lane}_tmp"
  left=$(show_and_kill "${!tmp_var}")
  if [ -n "$left" ]; then printf '# the %s lane left these running (ended now):\n%s\n' "$lane" "$left" >>"$diagnostics_log"; fi
done
# What the lanes' supervision found (printed when found too), last, where a CI log is read.
if [ -s "$diagnostics_log" ]; then echo "# lane diagnostics:" >&2; cat "$diagnostics_log" >&2; fi
echo "# times: native lane ${native_seconds} s, vm lane $(cat "$vm_seconds_file" 2>/dev/null || echo '?') s, in all $(( $(date +%s) - started_at )) s (static checks after the vm lane)" >&2
echo "# static checks exited $checks_status, native lane $native_status, vm lane $vm_status" >&2
[ "$checks_status" -eq 0 ] && [ "$native_status" -eq 0 ] && [ "$vm_status" -eq 0 ]
