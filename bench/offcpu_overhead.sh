#!/usr/bin/env bash
# Off-CPU profiling overhead: what an open /debug/pprof/block or /mutex window costs a
# context-switch-heavy workload end to end, against no agent in the same run, modes alternating.
#
# usage: bench/offcpu_overhead.sh OUT_DIR
#   env: RUNS=7, MODES="baseline idle block mutex block-rate1 tracked", ROUND_TRIPS=500000 (per round, ~2 s here),
#        WINDOW_SECONDS=6 (must outlast one round; a round that outlives its window is flagged),
#        PIN_CPU=1 (the CPU the workload's threads run on; empty: anywhere)
# Writes OUT_DIR/offcpu_overhead.csv (one line per round), OUT_DIR/offcpu_tools.txt (versions,
# load) and prints/writes OUT_DIR/offcpu_overhead.md (medians over RUNS).
#
# Workload: bench/pingpong_workload in serve mode, one process for the whole benchmark; each round
# is two fresh threads ping-ponging a byte over two pipes ROUND_TRIPS times, so a round trip is two
# sleeps and two wake-ups. Both threads are pinned to one CPU (PIN_CPU), so a round trip is two
# context switches on that CPU: on this 2-CPU VM, unpinned round trips are bimodal (~4 us when the
# scheduler puts both threads on one CPU, ~45 us when each wake-up is an IPI to an idle vCPU) and
# that noise swamps what the probes add. pprofd is not pinned and runs on the other CPU. Modes:
#   baseline     no agent
#   idle         pprofd attached to the workload, no request
#   block        pprofd, a /block?seconds=WINDOW_SECONDS window open over the whole round
#   mutex        the same with /mutex (futex waits only: pipes do not use futexes, so this is the
#                cost of the probes on a workload that never hits them)
#   block-rate1  block window with --offcpu-rate 1: every wait is recorded and unwound
#   tracked      pprofd --block --mutex, no request: both kinds attached from start-up, counting
#                into their cumulative stores (what an always-on sidecar scraped by Alloy or
#                Parca costs)
# /block hooks sched_switch, which fires on every context switch of the machine: the BPF program
# runs in the switching task and is charged to the workload (and to anything else switching), not
# to pprofd. pprofd's own CPU (draining the ring buffer, unwinding, symbolizing) is measured
# separately, from /proc/PID/stat (utime+stime, in ticks) and schedstat (exact).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR="${1:?usage: offcpu_overhead.sh OUT_DIR}"
RUNS="${RUNS:-7}"
MODES="${MODES:-baseline idle block mutex block-rate1 tracked}"
ROUND_TRIPS="${ROUND_TRIPS:-500000}"
WINDOW_SECONDS="${WINDOW_SECONDS:-6}"
PIN_CPU="${PIN_CPU-1}"
PINGPONG="${BUILD_DIR}/bench/pingpong_workload"

[[ $(id -u) -eq 0 ]] || die "must run as root (BPF, /proc of other processes)"
for tool in curl awk; do
  command -v "${tool}" >/dev/null || die "${tool} not found in PATH"
done
[[ -x ${PINGPONG} ]] ||
  cmake --build "${BUILD_DIR}" -j2 --target pingpong_workload >/dev/null ||
  die "cannot build pingpong_workload in ${BUILD_DIR}"
[[ -x ${PPROFD} ]] || die "pprofd missing in ${BUILD_DIR}: run build_bench_targets or bench/run_all.sh"

mkdir -p "${OUT_DIR}"
BENCH_TMP=$(mktemp -d /tmp/pprofd-bench.XXXXXX)
trap 'cleanup_children; rm -rf "${BENCH_TMP}"' EXIT
CSV="${OUT_DIR}/offcpu_overhead.csv"
TOOLS_TXT="${OUT_DIR}/offcpu_tools.txt"
# agent_*: pprofd's CPU from just before the round to its end (run) and to the window's response
# (window: includes draining what was queued and building the profile).
echo "mode,run,round_trips,ns_per_round_trip,agent_run_ticks,agent_run_ms,agent_window_ms,events,recorded,lost,window_covered,load1" >"${CSV}"

load1() { cut -d' ' -f1 /proc/loadavg; }

# --- the workload: one serve-mode process, rounds started by lines on its stdin ---
pw_start() {
  local fifo="${BENCH_TMP}/pw.in"
  PW_OUT="${BENCH_TMP}/pw.out"
  rm -f "${fifo}" "${PW_OUT}"
  mkfifo "${fifo}"
  local pin=()
  [[ -n ${PIN_CPU} ]] && pin=(taskset -c "${PIN_CPU}")
  "${pin[@]}" "${PINGPONG}" serve <"${fifo}" >"${PW_OUT}" &
  WL_PID=$!
  BENCH_CHILDREN+=("${WL_PID}")
  exec {WL_FD}>"${fifo}"
  wait_for_line "${PW_OUT}" '^ready' 10 || die "pingpong_workload did not start"
  PW_ROUND=0
}

# pw_round: one round of ROUND_TRIPS; sets R_NS (ns per round trip).
pw_round() {
  PW_ROUND=$((PW_ROUND + 1))
  echo "run ${ROUND_TRIPS}" >&"${WL_FD}"
  local deadline=$((SECONDS + 600))
  while (($(grep -c '^done' "${PW_OUT}" || true) < PW_ROUND)); do
    ((SECONDS < deadline)) || die "pingpong_workload gave no result for round ${PW_ROUND}"
    kill -0 "${WL_PID}" 2>/dev/null || die "pingpong_workload exited"
    sleep 0.01
  done
  local ns
  ns=$(grep -E '^(ns|error)' "${PW_OUT}" | sed -n "${PW_ROUND}p")
  [[ ${ns} == ns\ * ]] || die "pingpong_workload: ${ns}"
  R_NS=$(awk -v t="${ns#ns }" -v n="${ROUND_TRIPS}" 'BEGIN { printf "%.1f", t / n }')
}

pw_finish() {
  echo quit >&"${WL_FD}"
  exec {WL_FD}>&-
  wait "${WL_PID}" || true
}

# --- pprofd ---
# pprofd_start TARGET_PID ARGS...: sets PP_PID, PP_URL; returns once it answers HTTP.
pprofd_start() {
  local target=$1 port=$((20000 + RANDOM % 10000))
  shift
  PP_URL="http://127.0.0.1:${port}"
  (
    exec {WL_FD}>&- # the workload must see its stdin close when the benchmark ends
    exec "${PPROFD}" --pid "${target}" --listen "127.0.0.1:${port}" "$@"
  ) >>"${BENCH_TMP}/pprofd.log" 2>&1 &
  PP_PID=$!
  BENCH_CHILDREN+=("${PP_PID}")
  for _ in $(seq 400); do
    curl -sf -o /dev/null "${PP_URL}/debug/pprof/" && return 0
    kill -0 "${PP_PID}" 2>/dev/null || die "pprofd exited at start: $(tail -1 "${BENCH_TMP}/pprofd.log")"
    sleep 0.05
  done
  die "pprofd did not answer on ${PP_URL}"
}

# BPF links pprofd holds: its off-CPU programs are attached while a window is open.
pprofd_links() { cat /proc/"${PP_PID}"/fdinfo/* 2>/dev/null | awk '/^link_id:/ { n++ } END { print n + 0 }'; }

# Waits until pprofd's CPU time stops growing (start-up done: symbol tables loaded).
pprofd_settle() {
  local before after deadline=$((SECONDS + 60))
  sleep 0.3
  before=$(task_cpu_ns "${PP_PID}")
  while ((SECONDS < deadline)); do
    sleep 0.2
    after=$(task_cpu_ns "${PP_PID}")
    ((after - before < 2000000)) && return 0
    before=${after}
  done
  return 1
}

# run_one MODE RUN: one round in MODE; appends a line to the CSV.
run_one() {
  local mode=$1 run=$2 load ticks="" run_ms="" window_ms="" events="" recorded="" lost=""
  local covered="" kind="" rate=1000000 track=()
  load=$(load1)
  case "${mode}" in
    baseline) ;;
    idle) ;;
    block | mutex) kind=${mode} ;;
    block-rate1) kind=block rate=1 ;;
    tracked) track=(--block --mutex) ;;
    *) die "unknown mode ${mode}" ;;
  esac
  if [[ ${mode} == baseline ]]; then
    pw_round
  else
    pprofd_start "${WL_PID}" --offcpu-rate "${rate}" "${track[@]}"
    pprofd_settle || die "pprofd does not settle"
    local curl_pid="" links0 t0 t1 c0 c1 c2
    if [[ -n ${kind} ]]; then
      links0=$(pprofd_links)
      curl -sf -o "${BENCH_TMP}/window.txt" \
        "${PP_URL}/debug/pprof/${kind}?seconds=${WINDOW_SECONDS}&debug=1" &
      curl_pid=$!
      local deadline=$((SECONDS + 10))
      while (($(pprofd_links) <= links0)); do
        ((SECONDS < deadline)) || die "pprofd attached no ${kind} programs: $(tail -1 "${BENCH_TMP}/pprofd.log")"
        sleep 0.02
      done
      sleep 0.1 # the blocked-thread seeding after the attach
    fi
    t0=$(stat_cpu_ticks "${PP_PID}")
    c0=$(task_cpu_ns "${PP_PID}")
    pw_round
    t1=$(stat_cpu_ticks "${PP_PID}")
    c1=$(task_cpu_ns "${PP_PID}")
    ticks=$((t1 - t0))
    run_ms=$(awk -v a="${c0}" -v b="${c1}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
    if [[ -n ${curl_pid} ]]; then
      # The window must still be open: it covered the whole round.
      covered=no
      kill -0 "${curl_pid}" 2>/dev/null && covered=yes
      wait "${curl_pid}" || die "${kind} window failed: $(tail -1 "${BENCH_TMP}/pprofd.log")"
      c2=$(task_cpu_ns "${PP_PID}")
      window_ms=$(awk -v a="${c0}" -v b="${c2}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
      read -r events recorded lost < <(awk '
        /^# events that ended in the window:/ {
          gsub(/[:,]/, " "); for (i = 1; i <= NF; i++) {
            if ($i == "window") ev = $(i + 1); if ($i == "recorded") rec = $(i + 1) } }
        /^# recorded events lost/ { n = split($0, f, " "); lo = f[n] }
        END { printf "%d %d %d\n", ev, rec, lo }' "${BENCH_TMP}/window.txt")
    fi
    stop_pprofd
  fi
  echo "${mode},${run},${ROUND_TRIPS},${R_NS},${ticks},${run_ms},${window_ms},${events},${recorded},${lost},${covered},${load}" >>"${CSV}"
  log "${mode} run ${run}: ${R_NS} ns/round trip, agent ${run_ms:-} ms (${ticks:-} ticks) window ${window_ms:-} ms, events ${events:-} recorded ${recorded:-} lost ${lost:-} covered ${covered:-} load ${load}"
}

{
  echo "pprofd: $("${PPROFD}" --version 2>&1 | head -1)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"${TOOLS_TXT}"

pw_start
pw_round >/dev/null # warm-up: page cache, the first thread stacks
# Rounds alternate the order of the modes (forward, then reversed) so slow drift in the
# machine's load cancels out of the medians.
for run in $(seq "${RUNS}"); do
  order=${MODES}
  ((run % 2 == 0)) && order=$(tr ' ' '\n' <<<"${MODES}" | tac | tr '\n' ' ')
  for mode in ${order}; do
    run_one "${mode}" "${run}"
  done
done
pw_finish
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"${TOOLS_TXT}"

summarize() {
  local mode base ns range ratio
  col() { awk -F, -v m="$1" -v c="$2" '$1 == m && $c != "" { print $c }' "${CSV}"; }
  base=$(col baseline 4 | median)
  echo "Off-CPU profiling overhead: pingpong_workload, ${ROUND_TRIPS} round trips per round (2 threads,"
  echo "up to 2 pipe sleeps + 2 wake-ups per round trip, pinned to CPU ${PIN_CPU:-any}), median of ${RUNS} rounds per mode, modes alternating."
  echo "Agent CPU: pprofd's utime+stime (/proc/PID/stat, $(getconf CLK_TCK) ticks/s) during the round;"
  echo "exact (schedstat) during the round and up to the window's response."
  echo
  echo "| mode | ns/round trip | min-max | ratio vs no agent | agent CPU ticks (stat) | agent CPU ms (schedstat) | agent CPU ms to response | events in window | recorded | lost | window covered round | load (1 min) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for mode in ${MODES}; do
    ns=$(col "${mode}" 4 | median)
    [[ ${ns} == nan ]] && continue
    range=$(col "${mode}" 4 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }')
    ratio=$(awk -v a="${ns}" -v b="${base}" 'BEGIN { if (b == "nan") print "-"; else printf "%.3f", a / b }')
    med() { col "${mode}" "$1" | median | awk '$1 == "nan" { print "-"; next } { print $1 }'; }
    printf '| %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${mode}" "${ns}" \
      "${range}" "${ratio}" "$(med 5)" "$(med 6)" "$(med 7)" "$(med 8)" "$(med 9)" "$(med 10)" \
      "$(col "${mode}" 11 | sort | uniq -c | awk '{ printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1 }')" \
      "$(col "${mode}" 12 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }')"
  done
}
summarize | tee "${OUT_DIR}/offcpu_overhead.md"
