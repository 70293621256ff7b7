#!/usr/bin/env bash
# Heap profiling overhead: nanoseconds added per malloc+free pair on a malloc-heavy workload by
# pprofd --heap (default rate and --heap-rate 1), memleak-bpfcc and heaptrack, each against a
# no-agent baseline in the same run, modes alternating; plus the cost after a windowed
# (?seconds=N, no --heap) profile has ended, which must be none.
#
# usage: bench/heap_overhead.sh OUT_DIR
#   env: RUNS=5, THREADS="2 1", MODES="baseline pprofd pprofd-rate1 memleak heaptrack",
#        PAIRS_<mode> (pairs per thread per run, sized for ~1-3 s; see below),
#        DETACH_WINDOWS=5, DETACH_SECONDS=2, MEMLEAK_ARGS (extra memleak options, e.g. "-s 1000")
# Writes OUT_DIR/heap_overhead.csv (one line per run), OUT_DIR/heap_detach.csv (one line per
# round of the detach test), OUT_DIR/heap_tools.txt (versions, and why a tool could not run) and
# prints/writes OUT_DIR/heap_overhead.md.
#
# memleak-bpfcc (Debian bpfcc-tools) compiles its BPF program against kernel headers. Without
# /lib/modules/$(uname -r)/build, this script merges Debian's linux-headers-*-common and -amd64
# trees (any version: memleak -p only uses uprobes) into a temporary directory and points
# BCC_KERNEL_SOURCE at it. It also works around bcc 0.26's Python binding passing a garbage
# ref_ctr_offset to bpf_attach_uprobe (iovisor/bcc#5236), which makes every attach fail with EINVAL.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR="${1:?usage: heap_overhead.sh OUT_DIR}"
RUNS="${RUNS:-5}"
THREADS="${THREADS:-2 1}"
MODES="${MODES:-baseline pprofd pprofd-rate1 memleak heaptrack}"
DETACH_WINDOWS="${DETACH_WINDOWS:-5}"
DETACH_SECONDS="${DETACH_SECONDS:-2}"
MEMLEAK_ARGS="${MEMLEAK_ARGS:-}"
# Per thread. Measured here: ~26 ns per pair without a tool, ~1.4 us with pprofd (~2 us at rate
# 1), ~13 us with memleak, ~0.3-0.6 us with heaptrack; the counts keep each run at ~0.5-3 s.
PAIRS_baseline="${PAIRS_baseline:-20000000}"
PAIRS_pprofd="${PAIRS_pprofd:-2000000}"
PAIRS_pprofd_rate1="${PAIRS_pprofd_rate1:-500000}"
PAIRS_memleak="${PAIRS_memleak:-200000}"
PAIRS_heaptrack="${PAIRS_heaptrack:-5000000}"
MALLOC_WORKLOAD="${BUILD_DIR}/bench/malloc_workload"

[[ $(id -u) -eq 0 ]] || die "must run as root (uprobes, /proc of other processes)"
for tool in curl jq bpftool awk; do
  command -v "${tool}" >/dev/null || die "${tool} not found in PATH"
done
[[ -x ${MALLOC_WORKLOAD} ]] ||
  cmake --build "${BUILD_DIR}" -j2 --target malloc_workload >/dev/null ||
  die "cannot build malloc_workload in ${BUILD_DIR}"
[[ -x ${PPROFD} ]] || die "pprofd missing in ${BUILD_DIR}: run build_bench_targets or bench/run_all.sh"

mkdir -p "${OUT_DIR}"
BENCH_TMP=$(mktemp -d /tmp/pprofd-bench.XXXXXX)
enable_bpf_stats
# enable_bpf_stats's trap, plus the temporary directory (merged kernel headers, heaptrack files),
# also when a run fails or is interrupted.
trap 'sysctl -qw kernel.bpf_stats_enabled="${BPF_STATS_BEFORE}"; cleanup_children; rm -rf "${BENCH_TMP}"' EXIT
CSV="${OUT_DIR}/heap_overhead.csv"
DETACH_CSV="${OUT_DIR}/heap_detach.csv"
TOOLS="${OUT_DIR}/heap_tools.txt"
echo "threads,mode,run,pairs,ns_per_pair,cpu_ns_per_pair,wall_s,tool_cpu_ms,bpf_ms,bpf_runs,calls,sampled,lost_allocs,machine_busy_s,load1,lost_frees" >"${CSV}"
# pprofd_links: when the window's response arrived for "after", else at the end of the round.
echo "threads,round,phase,pairs,ns_per_pair,cpu_ns_per_pair,pprofd_links,load1" >"${DETACH_CSV}"
: >"${TOOLS}"

# --- the workload: one process, rounds started by lines on its stdin ---
# mw_start THREADS PAIRS: sets WL_PID, WL_FD, WL_OUT (lib.sh's start_workload, another binary).
mw_start() {
  WORKLOAD="${MALLOC_WORKLOAD}" start_workload "$1" "$2"
  MW_ROUND=0
}

# mw_round [PAIRS]: runs one round; sets R_PAIRS, R_NS, R_CPU_NS, R_WALL, R_BUSY.
mw_round() {
  MW_ROUND=$((MW_ROUND + 1))
  local busy0 line
  busy0=$(busy_ticks)
  echo "${1:-}" >&"${WL_FD}"
  wait_for_line "${WL_OUT}" "^round=${MW_ROUND} " 900 || die "workload gave no result for round ${MW_ROUND}"
  R_BUSY=$(awk -v a="${busy0}" -v b="$(busy_ticks)" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f", (b - a) / hz }')
  line=$(grep "^round=${MW_ROUND} " "${WL_OUT}")
  R_PAIRS=$(sed -E 's/.* pairs=([0-9]+).*/\1/' <<<"${line}")
  R_NS=$(sed -E 's/.* ns_per_pair=([0-9.]+).*/\1/' <<<"${line}")
  R_CPU_NS=$(sed -E 's/.* cpu_ns_per_pair=([0-9.]+).*/\1/' <<<"${line}")
  R_WALL=$(sed -E 's/.* wall_s=([0-9.]+).*/\1/' <<<"${line}")
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# CPU ns of PID and all its descendants (heaptrack is a shell script running gdb, an interpreter
# and a compressor).
tree_cpu_ns() {
  local pids=("$1") all=() pid total=0
  while ((${#pids[@]})); do
    pid=${pids[0]}
    pids=("${pids[@]:1}")
    all+=("${pid}")
    # shellcheck disable=SC2207
    pids+=($(awk -v p="${pid}" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null))
  done
  for pid in "${all[@]}"; do total=$((total + $(task_cpu_ns "${pid}"))); done
  echo "${total}"
}

# Waits until the CPU time of a process tree stops growing (a tool has finished attaching).
wait_tree_quiet() {
  local before after deadline=$((SECONDS + 120))
  sleep 0.5
  before=$(tree_cpu_ns "$1")
  while ((SECONDS < deadline)); do
    sleep 0.3
    after=$(tree_cpu_ns "$1")
    ((after - before < 5000000)) && return 0
    before=${after}
  done
  return 1
}

# BPF links (uprobes) pprofd holds: its probes must be gone once a window has ended. Once
# pprofd has exited this is 0 by construction.
pprofd_links() {
  if kill -0 "${PP_PID:-0}" 2>/dev/null; then
    grep -h '^link_id:' /proc/"${PP_PID}"/fdinfo/* 2>/dev/null | wc -l
  else
    echo 0
  fi
}

# --- pprofd ---
# pprofd_start TARGET_PID ARGS...: sets PP_PID, PP_URL; returns once it answers HTTP.
pprofd_start() {
  local target=$1 port=$((20000 + RANDOM % 10000))
  shift
  PP_URL="http://127.0.0.1:${port}"
  (
    exec {WL_FD}>&-
    exec "${PPROFD}" --pid "${target}" --listen "127.0.0.1:${port}" "$@"
  ) >>"${BENCH_TMP}/pprofd.log" 2>&1 &
  PP_PID=$!
  BENCH_CHILDREN+=("${PP_PID}")
  for _ in $(seq 400); do
    curl -sf -o /dev/null "${PP_URL}/debug/pprof/" && return 0
    kill -0 "${PP_PID}" 2>/dev/null || die "pprofd exited at start: see ${BENCH_TMP}/pprofd.log"
    sleep 0.05
  done
  die "pprofd did not answer on ${PP_URL}"
}

# heap_counts: "calls sampled lost_allocs lost_frees" from the comments of pprofd's heap profile
# (counted since --heap attached). Lost = dropped because the ring buffer to the agent was full.
heap_counts() {
  curl -sf "${PP_URL}/debug/pprof/heap?debug=1" | awk '
    /^# allocation calls seen:/ { gsub(/[;:]/, " "); calls = $5; sampled = $7 }
    /^# missed events:/ {
      if (match($0, /[0-9]+ sampled allocations lost/)) lost_allocs = substr($0, RSTART, RLENGTH) + 0
      if (match($0, /[0-9]+ frees of sampled allocations lost/)) lost_frees = substr($0, RSTART, RLENGTH) + 0
    }
    END { printf "%d %d %d %d\n", calls, sampled, lost_allocs, lost_frees }'
}

# --- memleak ---
MEMLEAK_OK=""
setup_memleak() {
  if ! command -v memleak-bpfcc >/dev/null; then
    echo "memleak: not run: memleak-bpfcc not installed (apt-get install bpfcc-tools)" >>"${TOOLS}"
    return 1
  fi
  echo "memleak: bpfcc-tools $(dpkg-query -W -f '${Version}' bpfcc-tools 2>/dev/null)" >>"${TOOLS}"
  if [[ -z ${BCC_KERNEL_SOURCE:-} && ! -d /lib/modules/$(uname -r)/build ]]; then
    local common amd64
    common=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-common' | sort -V | tail -1)
    amd64=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-amd64' ! -name '*cloud*' ! -name '*rt*' |
      sort -V | tail -1)
    if [[ -z ${common} || -z ${amd64} ]]; then
      echo "memleak: not run: no kernel headers for $(uname -r) and no Debian linux-headers-*-amd64 to substitute" >>"${TOOLS}"
      return 1
    fi
    # bcc wants one tree; Debian splits it into the common sources and the generated amd64 part.
    mkdir -p "${BENCH_TMP}/kheaders"
    cp -as "${common}/." "${BENCH_TMP}/kheaders/"
    cp -as --remove-destination "${amd64}/." "${BENCH_TMP}/kheaders/"
    export BCC_KERNEL_SOURCE="${BENCH_TMP}/kheaders"
    local v
    IFS=. read -r -a v <<<"$(uname -r | sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+).*/\1/')"
    export BCC_LINUX_VERSION_CODE=$(((v[0] << 16) + (v[1] << 8) + (v[2] > 255 ? 255 : v[2])))
    echo "memleak: kernel headers: ${common} + ${amd64} (running kernel $(uname -r) has none), BCC_LINUX_VERSION_CODE=${BCC_LINUX_VERSION_CODE}" >>"${TOOLS}"
  fi
  cat >"${BENCH_TMP}/memleak.py" <<'EOF'
# Runs memleak-bpfcc with bpf_attach_uprobe's missing last argument (ref_ctr_offset) set to 0.
# Started in the background by a non-interactive shell, it inherits SIGINT ignored: restore it, so
# SIGINT ends memleak through its KeyboardInterrupt path (detach, exit) as Ctrl+C would.
import ctypes as ct, runpy, signal, sys
from bcc import libbcc
signal.signal(signal.SIGINT, signal.default_int_handler)
attach = libbcc.lib.bpf_attach_uprobe
if len(attach.argtypes) == 6:
    attach.argtypes = attach.argtypes + [ct.c_uint32]
    libbcc.lib.bpf_attach_uprobe = lambda *args: attach(*args, 0)
sys.argv = ["memleak-bpfcc"] + sys.argv[1:]
runpy.run_path("/usr/sbin/memleak-bpfcc", run_name="__main__")
EOF
  MEMLEAK_OK=1
}

# --- heaptrack ---
HEAPTRACK_OK=""
setup_heaptrack() {
  if ! command -v heaptrack >/dev/null || ! command -v gdb >/dev/null; then
    echo "heaptrack: not run: heaptrack or gdb (needed by heaptrack -p) not installed" >>"${TOOLS}"
    return 1
  fi
  echo "heaptrack: $(dpkg-query -W -f '${Version}' heaptrack 2>/dev/null), attached to the running process (heaptrack -p PID: gdb injects libheaptrack_inject.so)" >>"${TOOLS}"
  HEAPTRACK_OK=1
}

# run_one THREADS MODE RUN: one workload process; an untimed warm-up round without any tool, the
# tool attaches, one timed round; appends a line to the CSV.
run_one() {
  local threads=$1 mode=$2 run=$3 pairs_var="PAIRS_${2//-/_}"
  local pairs=${!pairs_var} tool_ms="" bpf_ms="" bpf_runs="" calls="" sampled="" lost="" load
  local lost_frees=""
  local ht_pid=""
  mw_start "${threads}" "${pairs}"
  mw_round >/dev/null # warm-up: page faults, the allocator's caches
  load=$(load1)
  case "${mode}" in
    baseline)
      mw_round
      ;;
    pprofd | pprofd-rate1)
      local rate=524288 cpu0 cpu1 bpf0 bpf1 c0 c1
      [[ ${mode} == pprofd-rate1 ]] && rate=1
      pprofd_start "${WL_PID}" --heap --heap-rate "${rate}"
      wait_tree_quiet "${PP_PID}" || die "pprofd does not settle"
      read -r -a c0 <<<"$(heap_counts)"
      cpu0=$(task_cpu_ns "${PP_PID}")
      bpf0=$(bpf_stats_of "${PP_PID}")
      mw_round
      # At --heap-rate 1 the agent may still be unwinding queued samples: count that work too.
      wait_tree_quiet "${PP_PID}" || true
      cpu1=$(task_cpu_ns "${PP_PID}")
      bpf1=$(bpf_stats_of "${PP_PID}")
      read -r -a c1 <<<"$(heap_counts)"
      stop_pprofd
      tool_ms=$(awk -v a="${cpu0}" -v b="${cpu1}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      bpf_ms=$(awk -v a="${bpf0% *}" -v b="${bpf1% *}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      bpf_runs=$((${bpf1#* } - ${bpf0#* }))
      calls=$((c1[0] - c0[0]))
      sampled=$((c1[1] - c0[1]))
      lost=$((c1[2] - c0[2]))
      lost_frees=$((c1[3] - c0[3]))
      ;;
    memleak)
      local ml_pid cpu0 cpu1
      (
        exec {WL_FD}>&-
        # shellcheck disable=SC2086  # options, split on purpose
        exec /usr/bin/python3 "${BENCH_TMP}/memleak.py" ${MEMLEAK_ARGS} -p "${WL_PID}"
      ) >"${BENCH_TMP}/memleak.out" 2>&1 &
      ml_pid=$!
      BENCH_CHILDREN+=("${ml_pid}")
      wait_for_line "${BENCH_TMP}/memleak.out" '^Attaching to pid' 120 ||
        die "memleak did not start: $(tail -3 "${BENCH_TMP}/memleak.out")"
      wait_tree_quiet "${ml_pid}" || die "memleak does not settle"
      kill -0 "${ml_pid}" 2>/dev/null || die "memleak exited: $(tail -3 "${BENCH_TMP}/memleak.out")"
      local bpf0 bpf1
      cpu0=$(task_cpu_ns "${ml_pid}")
      bpf0=$(bpf_stats_of "${ml_pid}")
      mw_round
      cpu1=$(task_cpu_ns "${ml_pid}")
      bpf1=$(bpf_stats_of "${ml_pid}")
      bpf_ms=$(awk -v a="${bpf0% *}" -v b="${bpf1% *}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      bpf_runs=$((${bpf1#* } - ${bpf0#* }))
      kill -INT "${ml_pid}"
      wait "${ml_pid}" 2>/dev/null || true
      cat "${BENCH_TMP}/memleak.out" >>"${BENCH_TMP}/memleak.log"
      tool_ms=$(awk -v a="${cpu0}" -v b="${cpu1}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      ;;
    heaptrack)
      local cpu0 cpu1
      # Without the workload's stdin: heaptrack waits for the target to exit, and the target
      # waits for its stdin to close.
      (
        exec {WL_FD}>&-
        cd "${BENCH_TMP}" && exec heaptrack -o "${BENCH_TMP}/heaptrack.${threads}.${run}" -p "${WL_PID}"
      ) >"${BENCH_TMP}/heaptrack.out" 2>&1 &
      ht_pid=$!
      BENCH_CHILDREN+=("${ht_pid}")
      wait_for_line "${BENCH_TMP}/heaptrack.out" '^injection finished' 120 ||
        die "heaptrack did not attach: $(tail -3 "${BENCH_TMP}/heaptrack.out")"
      wait_tree_quiet "${ht_pid}" || die "heaptrack does not settle"
      cpu0=$(tree_cpu_ns "${ht_pid}")
      mw_round
      wait_tree_quiet "${ht_pid}" || true
      cpu1=$(tree_cpu_ns "${ht_pid}")
      tool_ms=$(awk -v a="${cpu0}" -v b="${cpu1}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      ;;
    *) die "unknown mode ${mode}" ;;
  esac
  finish_workload
  if [[ ${mode} == heaptrack ]]; then
    wait "${ht_pid}" 2>/dev/null || true # it writes its file when the target exits
    rm -f "${BENCH_TMP}"/heaptrack.*.zst
  fi
  echo "${threads},${mode},${run},${R_PAIRS},${R_NS},${R_CPU_NS},${R_WALL},${tool_ms},${bpf_ms},${bpf_runs},${calls},${sampled},${lost},${R_BUSY},${load},${lost_frees}" >>"${CSV}"
  log "threads=${threads} ${mode} run ${run}: ${R_NS} ns/pair (cpu ${R_CPU_NS}) busy ${R_BUSY}s load ${load} tool ${tool_ms:-}ms calls ${calls:-} sampled ${sampled:-} lost ${lost:-}/${lost_frees:-}"
}

# detach_test THREADS: one workload process; rounds with no agent (before pprofd starts and after it
# exits), with pprofd attached but idle, during windowed profiles (no --heap: the allocator is
# probed for DETACH_SECONDS only) and after each window, which must run as fast as with no agent.
detach_test() {
  local threads=$1 window_pairs
  mw_start "${threads}" "${PAIRS_baseline}"
  mw_round >/dev/null
  # detach_row PHASE [LINKS]: LINKS defaults to the links pprofd holds now.
  detach_row() { echo "${threads},${MW_ROUND},$1,${R_PAIRS},${R_NS},${R_CPU_NS},${2:-$(pprofd_links)},$(load1)" >>"${DETACH_CSV}"; }
  for _ in 1 2 3; do
    mw_round
    detach_row no-agent
  done
  pprofd_start "${WL_PID}"
  wait_tree_quiet "${PP_PID}" || true
  # Attached but never asked for a heap profile: must cost nothing either.
  for _ in 1 2 3; do
    mw_round
    detach_row idle-agent
  done
  # Sized to end inside the window at ~1.2 us per probed pair.
  window_pairs=$((DETACH_SECONDS * 500000))
  for _ in $(seq "${DETACH_WINDOWS}"); do
    curl -sf -o "${BENCH_TMP}/window.pb.gz" \
      "${PP_URL}/debug/pprof/heap?seconds=${DETACH_SECONDS}" &
    local curl_pid=$!
    sleep 0.3
    mw_round "${window_pairs}"
    detach_row during
    wait "${curl_pid}" || die "windowed heap profile failed"
    # Links still held when the response has arrived, then two rounds: the first starts at once.
    local links_at_response
    links_at_response=$(pprofd_links)
    mw_round
    detach_row after "${links_at_response}"
    mw_round
    detach_row after-2
  done
  stop_pprofd
  for _ in 1 2 3; do
    mw_round
    detach_row no-agent
  done
  finish_workload
  log "threads=${threads} detach test done"
}

setup_memleak || true
setup_heaptrack || true
{
  echo "pprofd: $("${PPROFD}" --version 2>&1 | head -1)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"${TOOLS}"
ACTIVE_MODES=""
for mode in ${MODES}; do
  case "${mode}" in
    memleak) [[ -n ${MEMLEAK_OK} ]] || continue ;;
    heaptrack) [[ -n ${HEAPTRACK_OK} ]] || continue ;;
  esac
  ACTIVE_MODES+="${mode} "
done

# Rounds alternate the order of the modes (forward, then reversed) so slow drift in the
# machine's load cancels out of the medians.
for run in $(seq "${RUNS}"); do
  for threads in ${THREADS}; do
    order=${ACTIVE_MODES}
    ((run % 2 == 0)) && order=$(tr ' ' '\n' <<<"${ACTIVE_MODES}" | tac | tr '\n' ' ')
    for mode in ${order}; do
      run_one "${threads}" "${mode}" "${run}"
    done
  done
done
for threads in ${THREADS}; do detach_test "${threads}"; done

# Summary: medians per (threads, mode); "added" = mode's median - baseline's median of the same
# run size. Wall is what a thread waits per pair (the tool's own CPU competes with it when there is
# no free CPU); CPU is the workload threads' CPU time per pair, which includes the probes' kernel
# time and is immune to other load on the machine.
summarize() {
  local threads mode base base_cpu ns cpu added added_cpu per_sampled bpf_per others
  echo "| threads | mode | ns/pair (wall) | added ns/pair | slowdown | CPU ns/pair | added CPU ns/pair | tool CPU per pair | sampled | lost (ring full) | tool CPU per recorded sample | BPF ns per probe hit | others' CPU s | load (1 min) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for threads in ${THREADS}; do
    col() { awk -F, -v t="${threads}" -v m="$1" -v c="$2" '$1 == t && $2 == m && $c != "" { print $c }' "${CSV}"; }
    base=$(col baseline 5 | median)
    base_cpu=$(col baseline 6 | median)
    for mode in ${ACTIVE_MODES}; do
      ns=$(col "${mode}" 5 | median)
      cpu=$(col "${mode}" 6 | median)
      [[ ${ns} == nan ]] && continue
      local loads
      loads=$(col "${mode}" 15 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }')
      others=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m {
        print $14 - $6 * $4 * t / 1e9 - ($8 == "" ? 0 : $8 / 1e3) }' "${CSV}" | median)
      if [[ ${mode} == baseline ]]; then
        printf '| %s | %s | %.1f | - | - | %.1f | - | - | - | - | - | - | %.2f | %s |\n' "${threads}" \
          "${mode}" "${ns}" "${cpu}" "${others}" "${loads}"
        continue
      fi
      added=$(awk -v a="${ns}" -v b="${base}" 'BEGIN { printf "%.0f", a - b }')
      added_cpu=$(awk -v a="${cpu}" -v b="${base_cpu}" 'BEGIN { printf "%.0f", a - b }')
      local tool_per sampled lost
      tool_per=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m && $8 != "" {
        print $8 * 1e6 / ($4 * t) }' "${CSV}" | median | awk '$1 != "nan" { printf "%.0f ns", $1 } $1 == "nan" { print "-" }')
      sampled=$(col "${mode}" 12 | median | awk '$1 != "nan" { printf "%d", $1 } $1 == "nan" { print "-" }')
      lost=$(col "${mode}" 13 | median | awk '$1 != "nan" { printf "%d", $1 } $1 == "nan" { print "-" }')
      # Per allocation that reached the agent (sampled minus those lost to a full ring buffer).
      per_sampled=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m && $12 - $13 > 0 {
        print $8 * 1e3 / ($12 - $13) }' "${CSV}" | median | awk '$1 != "nan" { printf "%.1f us", $1 } $1 == "nan" { print "-" }')
      bpf_per=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m && $10 > 0 {
        print $9 * 1e6 / $10 }' "${CSV}" | median | awk '$1 != "nan" { printf "%.0f", $1 } $1 == "nan" { print "-" }')
      printf '| %s | %s | %.1f | %+d | %.1fx | %.1f | %+d | %s | %s | %s | %s | %s | %.2f | %s |\n' \
        "${threads}" "${mode}" "${ns}" "${added}" "$(awk -v a="${ns}" -v b="${base}" 'BEGIN { print a / b }')" \
        "${cpu}" "${added_cpu}" "${tool_per}" "${sampled}" "${lost}" "${per_sampled}" "${bpf_per}" \
        "${others}" "${loads}"
    done
  done
  echo
  echo "Detach test (windowed /heap?seconds=${DETACH_SECONDS} without --heap; medians over rounds):"
  echo
  echo "| threads | phase | rounds | ns/pair (wall) | CPU ns/pair | links held by pprofd |"
  echo "|---|---|---|---|---|---|"
  for threads in ${THREADS}; do
    for phase in no-agent idle-agent during after after-2; do
      dcol() { awk -F, -v t="${threads}" -v p="${phase}" -v c="$1" '$1 == t && $3 == p { print $c }' "${DETACH_CSV}"; }
      printf '| %s | %s | %d | %.1f | %.1f | %s |\n' "${threads}" "${phase}" "$(dcol 5 | wc -l)" \
        "$(dcol 5 | median)" "$(dcol 6 | median)" "$(dcol 7 | sort -u | tr '\n' ' ')"
    done
  done
}
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"${TOOLS}"
summarize | tee "${OUT_DIR}/heap_overhead.md"
