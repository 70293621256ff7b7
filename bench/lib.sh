# Helpers shared by the benchmark scripts (sourced, not run). Needs: root, curl, jq, bpftool, perf.
# shellcheck shell=bash disable=SC2034  # variables set here are read by the sourcing scripts

BENCH_SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${BENCH_SOURCE_DIR}/build-bench}"
PPROFD="${BUILD_DIR}/agent/pprofd"
WORKLOAD="${BUILD_DIR}/bench/overhead_workload"
PROFILE_STATS="${BUILD_DIR}/bench/profile_stats"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}

# Configures and builds what the benchmarks run, in BUILD_DIR.
build_bench_targets() {
  cmake -S "${BENCH_SOURCE_DIR}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "${BUILD_DIR}" -j2 --target pprofd overhead_workload profile_stats >/dev/null
}

check_tools() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (BPF, perf, /proc of other processes)"
  local tool
  for tool in curl jq bpftool perf awk; do
    command -v "${tool}" >/dev/null || die "${tool} not found in PATH"
  done
  [[ -x ${PPROFD} && -x ${WORKLOAD} && -x ${PROFILE_STATS} ]] ||
    die "binaries missing in ${BUILD_DIR}: run build_bench_targets or bench/run_all.sh"
}

# Median of the numbers on stdin (one per line); the mean of the middle two for an even count.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# CPU time in ns that all live threads of PID have run (scheduler accounting: exact, unlike the
# 10 ms ticks of /proc/PID/stat). %.0f, not %d: Debian's mawk prints at most 2^31-1 (2.1 s) for %d.
task_cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ sum += $1 } END { printf "%.0f\n", sum }'
}

# "run_time_ns run_cnt" summed over the BPF programs whose fds PID holds. The programs run in the
# sampled task's context, so their time is charged to the target, not to PID: count it separately.
# Needs kernel.bpf_stats_enabled=1.
bpf_stats_of() {
  local ids id ns=0 cnt=0 json
  ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u)
  for id in ${ids}; do
    json=$(bpftool prog show id "${id}" -j 2>/dev/null) || continue
    ns=$((ns + $(jq '.run_time_ns // 0' <<<"${json}")))
    cnt=$((cnt + $(jq '.run_cnt // 0' <<<"${json}")))
  done
  echo "${ns} ${cnt}"
}

# Turns on BPF run-time statistics for the benchmark and restores the old value on exit.
enable_bpf_stats() {
  BPF_STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -qw kernel.bpf_stats_enabled=1
  trap 'sysctl -qw kernel.bpf_stats_enabled="${BPF_STATS_BEFORE}"; cleanup_children' EXIT
}

BENCH_CHILDREN=()
cleanup_children() {
  local pid
  for pid in "${BENCH_CHILDREN[@]}"; do
    kill "${pid}" 2>/dev/null || true
  done
}

# --- the workload, driven through a FIFO on its stdin ---
# start_workload THREADS ITERATIONS: sets WL_PID, WL_FD, WL_OUT; returns once the threads exist.
start_workload() {
  local fifo="${BENCH_TMP}/wl.in"
  WL_OUT="${BENCH_TMP}/wl.out"
  rm -f "${fifo}" "${WL_OUT}"
  mkfifo "${fifo}"
  "${WORKLOAD}" "$1" "$2" <"${fifo}" >"${WL_OUT}" &
  WL_PID=$!
  BENCH_CHILDREN+=("${WL_PID}")
  exec {WL_FD}>"${fifo}"
  wait_for_line "${WL_OUT}" '^ready' 10 || die "workload did not start"
}

# Busy CPU time of the whole machine in USER_HZ ticks (/proc/stat: all but idle and iowait).
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 + $10 }' /proc/stat; }

workload_go() {
  WL_BUSY0=$(busy_ticks)
  echo go >&"${WL_FD}"
}

# Waits for the workload's result line; sets WL_WALL (s), WL_CPU (s, all threads) and WL_BUSY
# (s of CPU the whole machine used meanwhile, for telling how much else was running).
workload_wait_result() {
  wait_for_line "${WL_OUT}" '^wall_s=' 600 || die "workload gave no result"
  WL_BUSY=$(awk -v a="${WL_BUSY0}" -v b="$(busy_ticks)" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f", (b - a) / hz }')
  local line
  line=$(grep '^wall_s=' "${WL_OUT}")
  WL_WALL=$(sed -E 's/.*wall_s=([0-9.]+).*/\1/' <<<"${line}")
  WL_CPU=$(sed -E 's/.*cpu_s=([0-9.,]+).*/\1/' <<<"${line}" | tr ',' '\n' |
    awk '{ s += $1 } END { printf "%.4f\n", s }')
}

finish_workload() {
  exec {WL_FD}>&-
  wait "${WL_PID}" || true
}

# wait_for_line FILE REGEX TIMEOUT_S
wait_for_line() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}

# --- pprofd ---
# start_pprofd TARGET_PID [BINARY]: sets PP_PID and PP_URL; returns once it answers HTTP. BINARY
# defaults to the one built here; PPROFD_BASE (another build, e.g. the commit before a change)
# lets a benchmark compare two builds in the same run. The array PPROFD_FLAGS adds flags.
PPROFD_FLAGS=()
start_pprofd() {
  local port=$((20000 + RANDOM % 10000)) binary=${2:-${PPROFD}}
  PP_URL="http://127.0.0.1:${port}"
  "${binary}" --pid "$1" --listen "127.0.0.1:${port}" --max-hz 1000 ${PPROFD_FLAGS[@]+"${PPROFD_FLAGS[@]}"} \
    >>"${BENCH_TMP}/pprofd.log" 2>&1 &
  PP_PID=$!
  BENCH_CHILDREN+=("${PP_PID}")
  local attempt
  for attempt in $(seq 200); do
    curl -sf -o /dev/null "${PP_URL}/debug/pprof/" && return 0
    kill -0 "${PP_PID}" 2>/dev/null || die "pprofd exited at start: see ${BENCH_TMP}/pprofd.log"
    sleep 0.05
  done
  die "pprofd did not answer on ${PP_URL}"
}

stop_pprofd() {
  kill "${PP_PID}" 2>/dev/null || true
  wait "${PP_PID}" 2>/dev/null || true
}

# profile_field FILE KEY: one value from profile_stats output.
profile_field() { "${PROFILE_STATS}" "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# perf_stack_stats SCRIPT_OUTPUT: "samples complete" from `perf script -F tid,ip,sym` output (a
# header line per sample, one tab-indented line per frame, a blank line); a stack is complete when it reaches a thread's or the process's entry point.
perf_stack_stats() {
  awk '
    BEGIN { in_sample = 0 }
    /^[ \t]*$/ { if (in_sample) { n++; c += root } in_sample = 0; next }
    /^[^\t]/ { if (in_sample) { n++; c += root } in_sample = 1; root = 0; next }
    {
      sym = $2
      if (sym == "main" || sym == "start_thread" || sym == "clone3" || sym == "__clone3" ||
          sym == "__clone" || sym == "clone" || sym == "_start" || sym == "__libc_start_main" ||
          sym == "__libc_start_call_main") root = 1
    }
    END { if (in_sample) { n++; c += root } printf "%d %d\n", n, c }' "$1"
}

# utime + stime of PID in USER_HZ ticks (/proc/PID/stat fields 14 and 15, counted after the
# parenthesized command name, which may contain spaces).
stat_cpu_ticks() {
  sed -E 's/^.*\) //' /proc/"$1"/stat | awk '{ print $12 + $13 }'
}
