#!/usr/bin/env bash
# Builds what the benchmarks need and runs them all; prints the tables and writes them with the raw
# CSVs to OUT_DIR (default BUILD_DIR/bench-results/DATE). Method and results: docs/benchmarks.md.
#
# usage: bench/run_all.sh [OUT_DIR]   (env: BUILD_DIR, RUNS, and those of the scripts it runs)
# Takes about 20 minutes. Run it on an otherwise idle machine: other load shows in the wall times.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${BENCH_DIR}/lib.sh"

OUT_DIR="${1:-${BUILD_DIR}/bench-results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "${OUT_DIR}"

log "building in ${BUILD_DIR}"
build_bench_targets
check_tools

{
  echo "# pprofd benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- kernel $(uname -r), $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
  echo "- $(. /etc/os-release && echo "${PRETTY_NAME}"), $(perf --version), pprofd $("${PPROFD}" --version 2>&1 | head -1)"
  echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} >"${OUT_DIR}/summary.md"

log "overhead (alternating runs; progress below)"
"${BENCH_DIR}/overhead.sh" "${OUT_DIR}" >/dev/null
log "latency"
"${BENCH_DIR}/latency.sh" "${OUT_DIR}" >/dev/null
"${BENCH_DIR}/heap_overhead.sh" "${OUT_DIR}" >/dev/null # heap profiling: heap_overhead.md
# Thread snapshots (eu-stack, gdb, pprofd /threads): snapshot_bench.md. Its target is a test
# fixture, built only with PPROFD_BUILD_TESTS=ON.
SNAPSHOT_MD="${OUT_DIR}/snapshot_bench.md"
if cmake --build "${BUILD_DIR}" -j2 --target blocked_threads >/dev/null 2>&1; then
  log "snapshot_bench"
  "${BENCH_DIR}/snapshot_bench.sh" "${OUT_DIR}" >/dev/null
else
  echo "snapshot_bench not run: blocked_threads not built (it needs PPROFD_BUILD_TESTS=ON)" >"${SNAPSHOT_MD}"
fi
log "offcpu_overhead"
"${BENCH_DIR}/offcpu_overhead.sh" "${OUT_DIR}" >/dev/null # /block, /mutex: offcpu_overhead.md

# The unwinder micro-benchmark is defined with its fixture in tests/ (needs PPROFD_BUILD_TESTS=ON).
UNWIND_MD="${OUT_DIR}/unwind_bench.txt"
if cmake --build "${BUILD_DIR}" -j2 --target unwind_bench unwind_recorder >/dev/null 2>&1; then
  log "unwind_bench"
  "${BUILD_DIR}/tests/symbolizer/unwind_bench" "${BUILD_DIR}/tests/fixtures/unwind/unwind_recorder" \
    >"${UNWIND_MD}"
else
  echo "unwind_bench not built (it needs PPROFD_BUILD_TESTS=ON)" >"${UNWIND_MD}"
fi

{
  echo "## Overhead (median of ${RUNS:-5} alternating runs)"
  echo
  cat "${OUT_DIR}/overhead.md"
  echo
  echo "## Window end to last byte (${SECONDS_PER_PROFILE:-5} s profiles, ${RUNS:-5} fresh agents)"
  echo
  cat "${OUT_DIR}/latency.md"
  echo
  echo "## Heap profiling overhead"
  echo
  cat "${OUT_DIR}/heap_overhead.md"
  echo
  echo "## Thread snapshots"
  echo
  cat "${SNAPSHOT_MD}"
  echo
  echo "## Off-CPU profiling overhead (/block, /mutex windows)"
  echo
  cat "${OUT_DIR}/offcpu_overhead.md"
  echo
  echo "## Unwinder micro-benchmark (unwind_bench)"
  echo
  echo '```'
  cat "${UNWIND_MD}"
  echo '```'
  echo
  echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"${OUT_DIR}/summary.md"
cat "${OUT_DIR}/summary.md"
log "results in ${OUT_DIR}"
