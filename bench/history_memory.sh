#!/usr/bin/env bash
# Memory of the CPU look-back history over a long run: pprofd --continuous HZ on a target with a
# realistic variety of stacks (Debian's python3 running bench/python_busy.py, or the demo
# workload); every INTERVAL seconds the agent's RSS and the history's own gauges from /metrics
# (bytes, seconds held, stacks, evicted seconds, overflow). Reports MB per minute of history
# while it fills, whether the bytes stayed under --history-bytes, and how long ?past=N takes.
#
# usage: bench/history_memory.sh OUT_DIR   (env: DURATION=600 seconds, INTERVAL=30, HZ=19,
#                                           HISTORY=10m, HISTORY_BYTES=64M,
#                                           TARGET=python|demo, PYTHON=/usr/bin/python3)
# Writes OUT_DIR/history_memory.csv and prints/writes OUT_DIR/history_memory.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR="${1:?usage: history_memory.sh OUT_DIR}"
DURATION="${DURATION:-600}"
INTERVAL="${INTERVAL:-30}"
HZ="${HZ:-19}"
HISTORY="${HISTORY:-10m}"
HISTORY_BYTES="${HISTORY_BYTES:-64M}"
TARGET="${TARGET:-python}"
PYTHON="${PYTHON:-/usr/bin/python3}"

mkdir -p "${OUT_DIR}"
BENCH_TMP=$(mktemp -d /tmp/pprofd-bench.XXXXXX)
trap cleanup_children EXIT
[[ $(id -u) -eq 0 ]] || die "must run as root (BPF)"
[[ -x ${PPROFD} ]] || die "${PPROFD} missing: build pprofd in ${BUILD_DIR} (or set BUILD_DIR)"

case "${TARGET}" in
  python)
    "${PYTHON}" "${BENCH_SOURCE_DIR}/bench/python_busy.py" >"${BENCH_TMP}/target.out" 2>&1 &
    ;;
  demo)
    "${BUILD_DIR}/agent/pprofd-demo" >"${BENCH_TMP}/target.out" 2>&1 &
    echo ready >>"${BENCH_TMP}/target.out"
    ;;
  *) die "unknown TARGET ${TARGET}: want python or demo" ;;
esac
TARGET_PID=$!
BENCH_CHILDREN+=("${TARGET_PID}")
wait_for_line "${BENCH_TMP}/target.out" '^ready' 10 || die "target did not start"

PORT=$((20000 + RANDOM % 10000))
PP_URL="http://127.0.0.1:${PORT}"
"${PPROFD}" --pid "${TARGET_PID}" --listen "127.0.0.1:${PORT}" --continuous "${HZ}" \
  --history "${HISTORY}" --history-bytes "${HISTORY_BYTES}" >"${BENCH_TMP}/pprofd.log" 2>&1 &
PP_PID=$!
BENCH_CHILDREN+=("${PP_PID}")
for _ in $(seq 200); do
  curl -sf -o /dev/null "${PP_URL}/debug/pprof/" && break
  kill -0 "${PP_PID}" 2>/dev/null || die "pprofd exited at start: $(cat "${BENCH_TMP}/pprofd.log")"
  sleep 0.05
done

metric() { awk -v n="$1" '$1 == n { print $2 }' "${BENCH_TMP}/metrics"; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' /proc/"$1"/status; }

CSV="${OUT_DIR}/history_memory.csv"
echo "t_s,agent_rss_kb,history_bytes,history_seconds,history_stacks,evicted_seconds,overflow_samples,samples,agent_cpu_ms,target_cpu_ms" >"${CSV}"
log "history_memory: ${TARGET} PID ${TARGET_PID}, pprofd --continuous ${HZ} --history ${HISTORY} --history-bytes ${HISTORY_BYTES}, ${DURATION} s"
START=${SECONDS}
AGENT_CPU0=$(task_cpu_ns "${PP_PID}")
TARGET_CPU0=$(task_cpu_ns "${TARGET_PID}")
while true; do
  t=$((SECONDS - START))
  curl -sf -o "${BENCH_TMP}/metrics" "${PP_URL}/metrics" || die "/metrics failed"
  line="${t},$(rss_kb "${PP_PID}"),$(metric pprofd_cpu_history_bytes),$(metric pprofd_cpu_history_seconds),$(metric pprofd_cpu_history_stacks),$(metric pprofd_cpu_history_evicted_seconds_total),$(metric pprofd_cpu_history_overflow_samples_total),$(metric pprofd_cpu_samples_received_total)"
  line="${line},$(awk -v a="${AGENT_CPU0}" -v b="$(task_cpu_ns "${PP_PID}")" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
  line="${line},$(awk -v a="${TARGET_CPU0}" -v b="$(task_cpu_ns "${TARGET_PID}")" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
  echo "${line}" >>"${CSV}"
  log "${line}"
  ((t >= DURATION)) && break
  sleep "$((INTERVAL - (SECONDS - START) % INTERVAL))"
done

# The whole history at once, as after an alert.
PAST=$(awk -F, 'END { print ($4 < 1 ? 1 : $4) }' "${CSV}")
PAST_MS=$(curl -sf -o "${BENCH_TMP}/past.pb.gz" -w '%{time_total}' "${PP_URL}/debug/pprof/profile?past=${PAST}" |
  awk '{ printf "%.0f", $1 * 1000 }')
PAST_BYTES=$(stat -c %s "${BENCH_TMP}/past.pb.gz")
PAST_MS2=$(curl -sf -o /dev/null -w '%{time_total}' "${PP_URL}/debug/pprof/profile?past=${PAST}" |
  awk '{ printf "%.0f", $1 * 1000 }')

{
  echo "| quantity | value |"
  echo "|---|---|"
  awk -F, -v cap="$(metric pprofd_cpu_history_max_bytes)" -v past="${PAST}" -v ms="${PAST_MS}" \
    -v ms2="${PAST_MS2}" -v pb="${PAST_BYTES}" '
    NR == 2 { rss0 = $2 }
    NR > 1 { n++; t[n] = $1; rss[n] = $2; b[n] = $3; s[n] = $4; st[n] = $5; if ($3 > maxb) maxb = $3
             if ($2 > maxrss) maxrss = $2 }
    END {
      # Growth while the history fills: the last point at which it held fewer seconds than later.
      full = n; for (i = 2; i <= n; i++) if (s[i] <= s[i - 1]) { full = i - 1; break }
      mins = s[full] / 60
      printf "| run | %d s, %d samples |\n", t[n], $8
      printf "| history held at the end | %d s, %d stacks, %.2f MB |\n", s[n], st[n], b[n] / 1e6
      printf "| history bytes per minute of history (store gauge) | %.3f MB/min |\n", (mins > 0 ? b[full] / 1e6 / mins : 0)
      printf "| agent RSS at start / end / max | %.1f / %.1f / %.1f MB |\n", rss0 / 1024, rss[n] / 1024, maxrss / 1024
      printf "| agent RSS growth per minute (first to last point) | %.3f MB/min |\n", (t[n] > t[1] ? (rss[n] - rss0) / 1024 / ((t[n] - t[1]) / 60) : 0)
      printf "| largest history bytes / cap | %.2f MB / %.0f MB (%s) |\n", maxb / 1e6, cap / 1048576, (maxb <= cap ? "held" : "EXCEEDED")
      printf "| evicted seconds / overflow samples | %d / %d |\n", $6, $7
      printf "| agent CPU / target CPU | %.1f ms / %.1f ms (%.3f%% of the target'"'"'s) |\n", $9, $10, ($10 > 0 ? 100 * $9 / $10 : 0)
      printf "| ?past=%d: first / second answer, size | %d ms / %d ms, %d bytes gzipped |\n", past, ms, ms2, pb
    }' "${CSV}"
} | tee "${OUT_DIR}/history_memory.md"
rm -rf "${BENCH_TMP}"
