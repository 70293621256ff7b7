#!/usr/bin/env bash
# Checks what guest_test.sh brought back from one kernel: every answer's code and content (names
# from `go tool pprof -traces`, complete stacks, heap sites, the unit's hardening). Prints one
# line per check, PASS or FAIL, and exits 1 when one fails.
# Usage: check_results.sh RESULTS_DIR SERIES
set -uo pipefail
r="$1"
series="$2"
failures=0
pass() { echo "PASS [$series] $*"; }
fail() { echo "FAIL [$series] $*"; failures=$((failures + 1)); }
code_of() { awk -v n="$1" '$1 == n { c = $2 } END { print c }' "$r/codes.txt"; }
body_line() { head -c 300 "$r/$1.body" 2>/dev/null | tr '\n' ' '; }
expect_code_really() {
  local got
  got="$(code_of "$1")"
  if [ "$got" = "$2" ]; then pass "$1: $2"; else fail "$1: got ${got:-nothing}, want $2: $(body_line "$1")"; fi
}
# A profile whose stacks name FUNCTION (a regex), read by the real pprof.
expect_frame() {
  local name="$1" regex="$2"
  shift 2
  is_refused "$name" && return
  if [ "$(code_of "$name")" != 200 ]; then
    fail "$name: no profile to look for $regex in"
    return
  fi
  if go tool pprof -traces "$@" "$r/$name.body" 2>"$r/$name.pprof.err" >"$r/$name.traces" &&
     grep -Eq "$regex" "$r/$name.traces"; then
    pass "$name: stacks name $regex"
  else
    fail "$name: no stack names $regex ($r/$name.traces)"
  fi
}

# What a kernel cannot do, answered with 501 and one line naming the reason (README: Supported
# kernels). 5.10: thread snapshots need bpf_task_pt_regs/bpf_copy_from_user_task (5.15/5.18), the
# heap uprobes bpf_get_attach_cookie (5.15), the off-CPU programs task storage for tracing (5.11).
refused=""
case "$series" in
  5.10) refused="threads threads_debug2 heap_window heap_flag block mutex unit_heap unit_mutex" ;;
esac
is_refused() { case " $refused " in *" $1 "*) return 0 ;; esac; return 1; }
expect_refusal() {
  local got lines
  got="$(code_of "$1")"
  lines="$(grep -c '' "$r/$1.body" 2>/dev/null || echo 0)"
  if [ "$got" = 501 ] && [ "$lines" -le 1 ] && [ -s "$r/$1.body" ]; then
    pass "$1: refused on $series: $(body_line "$1" | cut -c1-160)"
  else
    fail "$1: want a one-line 501 on $series, got ${got:-nothing}: $(body_line "$1")"
  fi
}
# Wraps expect_code and expect_frame: a refused name must be a one-line 501 instead.
checked_refusals=" "
expect_code() {
  if is_refused "$1"; then
    case "$checked_refusals" in *" $1 "*) ;; *) checked_refusals+="$1 "; expect_refusal "$1" ;; esac
    return
  fi
  expect_code_really "$@"
}

echo "kernel $(cat "$r/uname.txt") ($(cat "$r/uname_v.txt" 2>/dev/null)), kernel.perf_event_paranoid=$(cat "$r/perf_event_paranoid.txt")"
expect_code dpkg 0
expect_code manual_start 200
expect_code profile 200
expect_frame profile 'ComputeChecksums'
expect_frame profile 'ParseRequests'
# Every sample unwound to its outermost frame (the comment pprofd writes in each CPU profile).
if go tool pprof -raw "$r/profile.body" 2>/dev/null | grep -q 'stacks unwound to their outermost frame: \([0-9]*\) of \1 samples'; then
  pass "profile: every stack complete"
else
  fail "profile: not every stack complete: $(go tool pprof -raw "$r/profile.body" 2>/dev/null | grep -m1 'stacks unwound')"
fi
expect_code threads 200
expect_frame threads 'WaitForLogLines|LogWriter'
expect_code threads_debug2 200
expect_code metrics 200
if grep -q '^pprofd_' "$r/metrics.body" 2>/dev/null; then pass "metrics: pprofd_ series"; else fail "metrics: no pprofd_ series"; fi
expect_code symbol 200
if grep -q 'num_symbols: 1' "$r/symbol.body" 2>/dev/null; then pass "symbol: num_symbols"; else fail "symbol: $(body_line symbol)"; fi
# /heap without --heap and without seconds: at once, an empty profile naming --heap (as Go with
# MemProfileRate 0).
expect_code heap_no_flag 200
expect_code heap_window 200
expect_frame heap_window 'CacheResponse' -sample_index=alloc_space
if is_refused heap_flag; then
  # --heap where the kernel cannot probe the allocator: pprofd exits 1 naming why.
  if grep -q 'error: heap' "$r/heap_flag.log" 2>/dev/null || grep -q 'heap.*unavailable\|heap_sampler' "$r/heap_flag.log" 2>/dev/null; then
    pass "heap_flag: --heap refused on $series: $(grep -m1 -i 'heap' "$r/heap_flag.log" | cut -c1-160)"
  else
    fail "heap_flag: --heap on $series neither served nor named its reason: $(tail -1 "$r/heap_flag.log")"
  fi
else
  expect_code heap_flag_start 200
  expect_code heap_flag 200
  expect_frame heap_flag 'CacheResponse' -sample_index=inuse_space
fi
expect_code block 200
expect_frame block 'WaitForLogLines'
expect_code mutex 200
expect_frame mutex 'RecordRequestStats|WaitForLogLines'
# The manual run had no tracefs (guest_test.sh): the mutex kind never fell back to its tracepoints.
if grep -q '^tracefs hidden' "$r/manual.log" 2>/dev/null && ! grep -q 'futex tracepoints' "$r/manual.log"; then
  pass "manual: served without tracefs"
else
  fail "manual: tracefs not hidden, or /mutex needed it: $(grep -m1 -E 'tracefs|futex tracepoints' "$r/manual.log")"
fi
# A load that succeeds logs no verifier dump at warning level.
dump_lines="$(grep -c '^pprofd: warning: libbpf' "$r/manual.log" 2>/dev/null || true)"
if [ "${dump_lines:-0}" -le 3 ]; then pass "start-up: ${dump_lines:-0} libbpf warnings"; else fail "start-up: $dump_lines libbpf warning lines (manual.log)"; fi

# Debian's kernel.perf_event_paranoid=3 at boot; the package lowers it to 2; at 3 the unit's
# CAP_PERFMON is refused and the answer says which sysctl and the fix.
if [ "$(cat "$r/perf_event_paranoid.txt")" = 3 ]; then pass "boot: perf_event_paranoid=3"; else fail "boot: perf_event_paranoid=$(cat "$r/perf_event_paranoid.txt"), want Debian's 3"; fi
if [ "$(cat "$r/perf_event_paranoid_after_install.txt")" = 2 ]; then pass "install: perf_event_paranoid=2"; else fail "install: perf_event_paranoid=$(cat "$r/perf_event_paranoid_after_install.txt"), want 2"; fi
if [ "$(code_of unit_profile_paranoid3)" = 200 ] || grep -q 'kernel.perf_event_paranoid=3' "$r/unit_profile_paranoid3.body"; then
  pass "unit at paranoid 3: $(code_of unit_profile_paranoid3) $(body_line unit_profile_paranoid3 | cut -c1-120)"
else
  fail "unit at paranoid 3: $(code_of unit_profile_paranoid3) without naming the sysctl: $(body_line unit_profile_paranoid3)"
fi

# systemd: the template unit, its hardening, a restart of the profiled unit.
expect_code unit_enable 0
expect_code unit_start 200
expect_code unit_profile 200
expect_frame unit_profile 'ComputeChecksums'
if [ "$series" = 6.1 ] || [ "$series" = 6.12 ]; then
  # Known, not fixed: perf-event uprobes need CAP_SYS_ADMIN since the 2025 stable fix "perf:
  # Require CAP_SYS_ADMIN for uprobes" (Debian's 6.1.176, 6.12.95); the unit has CAP_PERFMON. The
  # answer must say so in one line. (6.12 could attach through uprobe_multi links instead.)
  if [ "$(code_of unit_heap)" = 503 ] && grep -q 'need CAP_SYS_ADMIN' "$r/unit_heap.body"; then
    pass "unit_heap: refused on $series, naming CAP_SYS_ADMIN"
  else
    expect_code unit_heap 200
    expect_frame unit_heap 'CacheResponse' -sample_index=alloc_space
  fi
else
  expect_code unit_heap 200
  expect_frame unit_heap 'CacheResponse' -sample_index=alloc_space
fi
expect_code unit_mutex 200
expect_frame unit_mutex 'RecordRequestStats|WaitForLogLines'
expect_code unit_profile2 200
pid2="$(cat "$r/unit_demo_pid2.txt" 2>/dev/null)"
if [ -n "$pid2" ] && [ "$pid2" != "$(cat "$r/unit_demo_pid1.txt")" ] &&
   go tool pprof -raw "$r/unit_profile2.body" 2>/dev/null | grep -q "of PID $pid2 "; then
  pass "unit_profile2: follows the restarted unit (PID $pid2)"
else
  fail "unit_profile2: does not profile the new PID ${pid2:-?}"
fi
if grep -q '^NoNewPrivs:[[:space:]]*1' "$r/unit_status.txt" && ! grep -q '^Uid:[[:space:]]*0' "$r/unit_status.txt" &&
   grep -q "^CapEff:[[:space:]]*000000c400080004$" "$r/unit_status.txt" &&
   grep -q '^Seccomp:[[:space:]]*2$' "$r/unit_status.txt"; then
  pass "unit: hardening in force ($(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' "$r/unit_status.txt" | tr '\n\t' '  '))"
else
  fail "unit: hardening not in force: $(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' "$r/unit_status.txt" | tr '\n' ' ')"
fi
expect_code guest_done 0
if [ "$failures" -gt 0 ]; then
  echo "[$series] $failures checks failed (results: $r)"
  exit 1
fi
echo "[$series] every check passed"
