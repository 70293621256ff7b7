#!/usr/bin/env bash
# Thread snapshot cost: wall time to take one stack dump of every thread of a process with 10, 100
# and 1000 threads, and how long the dump stopped the target, for eu-stack and gdb (ptrace) and
# pprofd's /debug/pprof/threads?debug=2 (a BPF task iterator).
#
# usage: bench/snapshot_bench.sh OUT_DIR
#   env: RUNS=5, THREADS="10 100 1000" (total threads of the target), TOOLS="eu-stack gdb pprofd",
#        SETTLE_MS=50, TOOL_TIMEOUT_S=300
# Writes OUT_DIR/snapshot_bench.csv (one line per dump), OUT_DIR/snapshot_tools.txt (versions,
# why a tool could not run) and prints/writes OUT_DIR/snapshot_bench.md (medians over RUNS).
#
# The target is tests/fixtures/thread_workloads/blocked_threads: seven threads blocked in known
# places, a spinner, and idle threads up to the total. The stall is the spinner's own measure:
# the longest gap in its progress between SIGUSR2 (reset) and SIGUSR1 (read), a window of
# SETTLE_MS + the dump + SETTLE_MS. Each dump is paired with a no-tool window of the same length
# right after it (the baseline: how long the spinner is descheduled anyway by other load on the
# machine). gdb stops all threads for the whole dump; eu-stack (libdwfl) attaches to one thread at
# a time, so the spinner is stopped only while its own stack is unwound, and so is every other
# thread; pprofd stops nothing, but competes for the CPUs while it works.
#
# Each tool gets one untimed dump per target first (page cache, pprofd's symbol caches).
# DEBUGINFOD_URLS is cleared: without network the tools would wait for debuginfod.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR="${1:?usage: snapshot_bench.sh OUT_DIR}"
RUNS="${RUNS:-5}"
THREADS="${THREADS:-10 100 1000}"
TOOLS="${TOOLS:-eu-stack gdb pprofd}"
SETTLE_MS="${SETTLE_MS:-50}"
TOOL_TIMEOUT_S="${TOOL_TIMEOUT_S:-300}"
BLOCKED_THREADS="${BUILD_DIR}/tests/fixtures/thread_workloads/blocked_threads"
NAMED_THREADS=8 # main and the seven named threads of blocked_threads
unset DEBUGINFOD_URLS

[[ $(id -u) -eq 0 ]] || die "must run as root (ptrace and BPF on another process)"
for tool in curl awk timeout; do
  command -v "${tool}" >/dev/null || die "${tool} not found in PATH"
done
for n in ${THREADS}; do
  ((n >= NAMED_THREADS)) || die "THREADS: ${n} is fewer than the ${NAMED_THREADS} named threads"
done
[[ -x ${BLOCKED_THREADS} ]] ||
  cmake --build "${BUILD_DIR}" -j2 --target blocked_threads >/dev/null ||
  die "cannot build blocked_threads in ${BUILD_DIR} (it needs PPROFD_BUILD_TESTS=ON)"

mkdir -p "${OUT_DIR}"
BENCH_TMP=$(mktemp -d /tmp/pprofd-bench.XXXXXX)
trap 'cleanup_children; rm -rf "${BENCH_TMP}"' EXIT
CSV="${OUT_DIR}/snapshot_bench.csv"
TOOLS_TXT="${OUT_DIR}/snapshot_tools.txt"
echo "threads,tool,run,dump_ms,stall_ms,baseline_ms,window_ms,threads_dumped,status" >"${CSV}"
: >"${TOOLS_TXT}"

now_us() { echo "${EPOCHREALTIME/./}"; }
sleep_ms() { sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"; }

# --- the target ---
# bt_start TOTAL_THREADS: sets BT_PID and BT_OUT; returns once every thread is in place.
bt_start() {
  BT_OUT="${BENCH_TMP}/blocked_threads.out"
  rm -f "${BT_OUT}"
  "${BLOCKED_THREADS}" --extra-threads $(($1 - NAMED_THREADS)) >"${BT_OUT}" 2>&1 &
  BT_PID=$!
  BENCH_CHILDREN+=("${BT_PID}")
  wait_for_line "${BT_OUT}" '^ready ' 60 || die "blocked_threads did not start: $(tail -2 "${BT_OUT}")"
  grep -q "^ready pid=${BT_PID} threads=$1\$" "${BT_OUT}" ||
    die "blocked_threads: unexpected ready line: $(grep '^ready' "${BT_OUT}")"
}

bt_stop() {
  kill -TERM "${BT_PID}" 2>/dev/null || true
  wait "${BT_PID}" 2>/dev/null || true
}

# bt_stall_ms: asks for a stats line and prints its max_stall_ns in ms.
bt_stall_ms() {
  local before deadline=$((SECONDS + 10))
  before=$(grep -c '^stats ' "${BT_OUT}" || true)
  kill -USR1 "${BT_PID}"
  while (($(grep -c '^stats ' "${BT_OUT}" || true) <= before)); do
    ((SECONDS < deadline)) || die "blocked_threads gave no stats line"
    sleep 0.01
  done
  grep '^stats ' "${BT_OUT}" | tail -1 |
    sed -E 's/.* max_stall_ns=([0-9]+).*/\1/' | awk '{ printf "%.3f\n", $1 / 1e6 }'
}

# bt_reset: starts a stall window (main handles SIGUSR2 within microseconds; SETTLE_MS covers it).
bt_reset() {
  kill -USR2 "${BT_PID}"
  sleep_ms "${SETTLE_MS}"
}

# --- pprofd ---
# pp_start TARGET_PID: sets PP_PID and PP_URL, or PP_STATUS to why pprofd cannot be used.
pp_start() {
  PP_STATUS=""
  PP_PID=""
  if [[ ! -x ${PPROFD} ]]; then
    PP_STATUS="pprofd not built in ${BUILD_DIR}"
    return 1
  fi
  local port=$((20000 + RANDOM % 10000))
  PP_URL="http://127.0.0.1:${port}"
  "${PPROFD}" --pid "$1" --listen "127.0.0.1:${port}" >>"${BENCH_TMP}/pprofd.log" 2>&1 &
  PP_PID=$!
  BENCH_CHILDREN+=("${PP_PID}")
  for _ in $(seq 400); do
    curl -sf -o /dev/null "${PP_URL}/debug/pprof/" && return 0
    if ! kill -0 "${PP_PID}" 2>/dev/null; then
      PP_STATUS="pprofd exited at start: $(tail -1 "${BENCH_TMP}/pprofd.log")"
      PP_PID=""
      return 1
    fi
    sleep 0.05
  done
  PP_STATUS="pprofd did not answer on ${PP_URL}"
  return 1
}

pp_stop() {
  [[ -n ${PP_PID} ]] || return 0
  kill "${PP_PID}" 2>/dev/null || true
  wait "${PP_PID}" 2>/dev/null || true
  PP_PID=""
}

# --- the tools ---
# tool_status TOOL: empty when TOOL can run now, else why not.
tool_status() {
  case "$1" in
    eu-stack) command -v eu-stack >/dev/null || echo "not installed (apt-get install elfutils)" ;;
    gdb) command -v gdb >/dev/null || echo "not installed (apt-get install gdb)" ;;
    pprofd) [[ -z ${PP_PID} ]] && echo "${PP_STATUS:-pprofd not started}" ;;
    *) echo "unknown tool" ;;
  esac
  return 0
}

# dump TOOL: one full stack dump of BT_PID into BENCH_TMP/dump.out; sets D_MS (wall time),
# D_THREADS (threads in the dump) and D_STATUS ("ok" or what went wrong).
dump() {
  local out="${BENCH_TMP}/dump.out" err="${BENCH_TMP}/dump.err" t0 t1 rc=0 code=""
  : >"${out}"
  : >"${err}"
  t0=$(now_us)
  case "$1" in
    eu-stack) timeout "${TOOL_TIMEOUT_S}" eu-stack -p "${BT_PID}" >"${out}" 2>"${err}" || rc=$? ;;
    gdb)
      timeout "${TOOL_TIMEOUT_S}" gdb -nx -batch -iex 'set debuginfod enabled off' \
        -p "${BT_PID}" -ex 'thread apply all bt' >"${out}" 2>"${err}" || rc=$?
      ;;
    pprofd)
      code=$(curl -s -m "${TOOL_TIMEOUT_S}" -o "${out}" -w '%{http_code}' \
        "${PP_URL}/debug/pprof/threads?debug=2") || rc=$?
      ;;
  esac
  t1=$(now_us)
  D_MS=$(awk -v a="${t0}" -v b="${t1}" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
  case "$1" in
    eu-stack) D_THREADS=$(grep -c '^TID [0-9]' "${out}" || true) ;;
    gdb) D_THREADS=$(grep -c '^Thread [0-9]' "${out}" || true) ;;
    pprofd) D_THREADS=$(grep -c '^thread [0-9]' "${out}" || true) ;;
  esac
  D_STATUS=ok
  if [[ $1 == pprofd ]]; then
    if ((rc != 0)); then
      D_STATUS="curl failed (exit ${rc})"
    elif [[ ${code} == 404 ]]; then
      D_STATUS="endpoint missing"
    elif [[ ${code} != 200 ]]; then
      D_STATUS="HTTP ${code}: $(head -c 120 "${out}" | head -1)"
    fi
  elif ((rc == 124)); then
    D_STATUS="timed out after ${TOOL_TIMEOUT_S} s"
  elif ((D_THREADS == 0)); then
    D_STATUS="failed (exit ${rc}): $(grep -v '^$' "${err}" | head -1 | cut -c1-120)"
  fi
  # eu-stack exits 1 when it could not unwind some frame; the dump is still there, so it counts.
  # A tool that killed the target ends the benchmark.
  kill -0 "${BT_PID}" 2>/dev/null || die "blocked_threads died during a $1 dump: $(tail -2 "${BT_OUT}")"
}

# measure THREADS TOOL RUN: one timed dump, then a no-tool window of the same length; appends a
# line to the CSV.
measure() {
  local threads=$1 tool=$2 run=$3 status stall baseline window
  status=$(tool_status "${tool}")
  if [[ -n ${status} ]]; then
    echo "${threads},${tool},${run},,,,,,${status//,/;}" >>"${CSV}"
    return 0
  fi
  bt_reset
  local t0 t1
  t0=$(now_us)
  dump "${tool}"
  sleep_ms "${SETTLE_MS}"
  stall=$(bt_stall_ms)
  t1=$(now_us)
  window=$(awk -v a="${t0}" -v b="${t1}" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
  # The same window without a tool: reset, wait as long as the dump took plus the settle time.
  bt_reset
  sleep_ms "${window}"
  baseline=$(bt_stall_ms)
  echo "${threads},${tool},${run},${D_MS},${stall},${baseline},${window},${D_THREADS},${D_STATUS//,/;}" >>"${CSV}"
  log "threads=${threads} ${tool} run ${run}: dump ${D_MS} ms, ${D_THREADS} threads, stall ${stall} ms (baseline ${baseline} ms) ${D_STATUS}"
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs"
  echo "eu-stack: $(eu-stack --version 2>/dev/null | head -1 || echo 'not installed (apt-get install elfutils)')"
  echo "gdb: $(gdb --version 2>/dev/null | head -1 || echo 'not installed (apt-get install gdb)')"
  if [[ -x ${PPROFD} ]]; then
    echo "pprofd: ${PPROFD} $("${PPROFD}" --version 2>&1 | head -1)"
  else
    echo "pprofd: not built in ${BUILD_DIR}"
  fi
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"${TOOLS_TXT}"

for threads in ${THREADS}; do
  bt_start "${threads}"
  PP_PID=""
  PP_STATUS="not asked for (TOOLS)"
  if [[ " ${TOOLS} " == *" pprofd "* ]]; then
    pp_start "${BT_PID}" || echo "pprofd at ${threads} threads: ${PP_STATUS}" >>"${TOOLS_TXT}"
  fi
  for tool in ${TOOLS}; do
    [[ -z $(tool_status "${tool}") ]] || continue
    dump "${tool}" # untimed warm-up
    [[ ${D_STATUS} == ok ]] || echo "${tool} at ${threads} threads: ${D_STATUS}" >>"${TOOLS_TXT}"
  done
  # The tools' order alternates run by run, so slow drift in the machine's load cancels out.
  for run in $(seq "${RUNS}"); do
    order=${TOOLS}
    ((run % 2 == 0)) && order=$(tr ' ' '\n' <<<"${TOOLS}" | tac | tr '\n' ' ')
    for tool in ${order}; do
      measure "${threads}" "${tool}" "${run}"
    done
  done
  pp_stop
  bt_stop
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"${TOOLS_TXT}"

# Medians over the runs whose dump succeeded; a tool with none shows why in the note.
summarize() {
  local threads tool ok note
  echo "Thread snapshot: one full stack dump of a process with N threads (median of ${RUNS} runs)."
  echo "Max stall: the longest time the target's spinning thread did not run during a window of"
  echo "the dump + 2 x ${SETTLE_MS} ms; baseline: the same window length without a tool."
  echo
  echo "| threads | tool | dump time ms | max stall ms | baseline stall ms | threads dumped | note |"
  echo "|---|---|---|---|---|---|---|"
  for threads in ${THREADS}; do
    for tool in ${TOOLS}; do
      col() { awk -F, -v t="${threads}" -v m="${tool}" -v c="$1" '$1 == t && $2 == m && $9 ~ /^ok/ { print $c }' "${CSV}"; }
      ok=$(col 4 | wc -l)
      if ((ok == 0)); then
        note=$(awk -F, -v t="${threads}" -v m="${tool}" '$1 == t && $2 == m { n = $9 } END { print n }' "${CSV}")
        printf '| %s | %s | - | - | - | - | %s |\n' "${threads}" "${tool}" "${note:-not run}"
        continue
      fi
      note=""
      ((ok < RUNS)) && note="${ok} of ${RUNS} runs succeeded"
      printf '| %s | %s | %.1f | %.1f | %.1f | %s | %s |\n' "${threads}" "${tool}" \
        "$(col 4 | median)" "$(col 5 | median)" "$(col 6 | median)" "$(col 8 | median)" "${note}"
    done
  done
}
summarize | tee "${OUT_DIR}/snapshot_bench.md"
