#!/usr/bin/env bash
# Time from the end of a profile's window to the last byte of the response, for the first request
# to a freshly attached pprofd (cold caches: every module's ELF/DWARF opened, every rule decoded)
# and for a second request to the same pprofd; plus the agent's CPU per sample of each.
#
# usage: bench/latency.sh OUT_DIR   (env: RUNS=5, SECONDS_PER_PROFILE=5, HZS="99 999", THREADS=2,
#                                    PPROFD_BASE: another build to measure alternately, as "base")
# Writes OUT_DIR/latency.csv (one line per request) and prints/writes OUT_DIR/latency.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR="${1:?usage: latency.sh OUT_DIR}"
RUNS="${RUNS:-5}"
WINDOW="${SECONDS_PER_PROFILE:-5}"
HZS="${HZS:-99 999}"
THREADS="${THREADS:-2}"

mkdir -p "${OUT_DIR}"
BENCH_TMP=$(mktemp -d /tmp/pprofd-bench.XXXXXX)
check_tools
enable_bpf_stats
CSV="${OUT_DIR}/latency.csv"
echo "hz,run,request,latency_ms,samples,complete_pct,agent_cpu_ms,bpf_ms" >"${CSV}"

# request HZ RUN WHICH: one profile; appends a line to the CSV.
request() {
  local hz=$1 run=$2 which=$3 profile="${BENCH_TMP}/profile.pb.gz" cpu0 cpu1 bpf0 bpf1 total
  cpu0=$(task_cpu_ns "${PP_PID}")
  bpf0=$(bpf_stats_of "${PP_PID}")
  # curl's clock starts before the connection, so total - window slightly overstates the latency.
  total=$(curl -sf -o "${profile}" -w '%{time_total}' \
    "${PP_URL}/debug/pprof/profile?seconds=${WINDOW}&hz=${hz}") || die "profile request failed"
  cpu1=$(task_cpu_ns "${PP_PID}")
  bpf1=$(bpf_stats_of "${PP_PID}")
  local latency samples complete agent_ms bpf_ms
  latency=$(awk -v t="${total}" -v w="${WINDOW}" 'BEGIN { printf "%.1f", (t - w) * 1000 }')
  samples=$(profile_field "${profile}" samples)
  complete=$(profile_field "${profile}" complete_pct)
  agent_ms=$(awk -v a="${cpu0}" -v b="${cpu1}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
  bpf_ms=$(awk -v a="${bpf0% *}" -v b="${bpf1% *}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
  echo "${hz},${run},${which},${latency},${samples},${complete},${agent_ms},${bpf_ms}" >>"${CSV}"
  log "hz=${hz} run ${run} ${which}: latency ${latency}ms samples ${samples} agent ${agent_ms}ms bpf ${bpf_ms}ms"
}

start_workload "${THREADS}" 0
workload_go
for run in $(seq "${RUNS}"); do
  for hz in ${HZS}; do
    start_pprofd "${WL_PID}"
    request "${hz}" "${run}" first
    request "${hz}" "${run}" second
    stop_pprofd
    if [[ -n ${PPROFD_BASE:-} ]]; then
      start_pprofd "${WL_PID}" "${PPROFD_BASE}"
      request "${hz}" "${run}" base-first
      request "${hz}" "${run}" base-second
      stop_pprofd
    fi
  done
done
finish_workload

summarize() {
  local hz which lat_med lat_max per_sample samples
  echo "| hz | request | latency median | latency max | samples | agent CPU per sample (incl. BPF) |"
  echo "|---|---|---|---|---|---|"
  for hz in ${HZS}; do
    for which in first second ${PPROFD_BASE:+base-first base-second}; do
      col() { awk -F, -v h="${hz}" -v w="${which}" -v c="$1" '$1 == h && $3 == w { print $c }' "${CSV}"; }
      lat_med=$(col 4 | median)
      lat_max=$(col 4 | sort -g | tail -1)
      samples=$(col 5 | median)
      per_sample=$(awk -F, -v h="${hz}" -v w="${which}" '$1 == h && $3 == w && $5 > 0 {
        print ($7 + $8) * 1000 / $5 }' "${CSV}" | median)
      printf '| %s | %s | %.1f ms | %.1f ms | %s | %.1f us |\n' "${hz}" "${which}" "${lat_med}" \
        "${lat_max}" "${samples}" "${per_sample}"
    done
  done
}
summarize | tee "${OUT_DIR}/latency.md"
rm -rf "${BENCH_TMP}"
