#!/usr/bin/env bash
# Target slowdown, agent CPU per sample and complete-stack share: pprofd against a no-agent
# baseline and against `perf record --call-graph dwarf`, on the fixed-work workload, runs of all
# modes alternating.
#
# usage: bench/overhead.sh OUT_DIR   (env: RUNS=5, THREADS="2 1", ITERATIONS=1000000,
#                                     MODES="baseline pprofd-99 pprofd-999 perf-99 perf-999";
#                                     base-99 and base-999 run PPROFD_BASE, another build;
#                                     continuous-19 runs pprofd --continuous 19 attached the
#                                     whole run with no profile asked: the always-on cost)
# Writes OUT_DIR/overhead.csv (one line per run) and prints/writes OUT_DIR/overhead.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR="${1:?usage: overhead.sh OUT_DIR}"
RUNS="${RUNS:-5}"
THREADS="${THREADS:-2 1}"
ITERATIONS="${ITERATIONS:-1000000}"
MODES="${MODES:-baseline pprofd-99 pprofd-999 perf-99 perf-999}"

mkdir -p "${OUT_DIR}"
BENCH_TMP=$(mktemp -d /tmp/pprofd-bench.XXXXXX)
check_tools
enable_bpf_stats
CSV="${OUT_DIR}/overhead.csv"
echo "threads,mode,run,wall_s,target_cpu_s,samples,complete_pct,agent_cpu_ms,bpf_ms,bpf_runs,machine_busy_s,post_ms" >"${CSV}"

# Waits until PID's CPU time stops growing (perf record has attached and written its setup).
wait_until_quiet() {
  local before after
  sleep 0.5
  before=$(task_cpu_ns "$1")
  while true; do
    sleep 0.3
    after=$(task_cpu_ns "$1")
    ((after - before < 5000000)) && return 0
    before=${after}
  done
}

# CPU seconds of a subshell's children from its `times` output (second line: user and system,
# e.g. "0m0.106s 0m1.231s").
children_cpu_s() {
  sed -n 2p "$1" | tr 'ms' '  ' | awk '{ printf "%.6f", $1 * 60 + $2 + $3 * 60 + $4 }'
}

# run_one THREADS MODE RUN WINDOW_S: one workload run; appends a line to the CSV.
run_one() {
  local threads=$1 mode=$2 run=$3 window=$4
  local samples="" complete="" agent_ms="" bpf_ms="" bpf_runs="" post_ms=""
  start_workload "${threads}" "${ITERATIONS}"
  case "${mode}" in
    baseline)
      workload_go
      workload_wait_result
      ;;
    pprofd-* | base-*)
      local hz=${mode#*-} profile="${BENCH_TMP}/profile.pb.gz" cpu0 cpu1 bpf curl_pid
      local binary=${PPROFD}
      if [[ ${mode} == base-* ]]; then binary=${PPROFD_BASE:?base modes need PPROFD_BASE}; fi
      start_pprofd "${WL_PID}" "${binary}"
      cpu0=$(task_cpu_ns "${PP_PID}")
      # One profile covering the whole run; the sampler is enabled when the request arrives.
      curl -sf -o "${profile}" "${PP_URL}/debug/pprof/profile?seconds=${window}&hz=${hz}" &
      curl_pid=$!
      sleep 0.3
      workload_go
      workload_wait_result
      wait "${curl_pid}" || die "profile request failed (${mode}, run ${run})"
      cpu1=$(task_cpu_ns "${PP_PID}")
      bpf=$(bpf_stats_of "${PP_PID}")
      stop_pprofd
      samples=$(profile_field "${profile}" samples)
      complete=$(profile_field "${profile}" complete_pct)
      agent_ms=$(awk -v a="${cpu0}" -v b="${cpu1}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      bpf_ms=$(awk -v n="${bpf% *}" 'BEGIN { printf "%.3f", n / 1e6 }')
      bpf_runs=${bpf#* }
      ;;
    continuous-*)
      # Always on: the sampler runs from pprofd's start; nobody asks for a profile. Samples
      # are the agent's own count (pprofd_cpu_samples_received_total) over the run.
      local hz=${mode#continuous-} cpu0 cpu1 bpf n0 n1
      PPROFD_FLAGS=(--continuous "${hz}")
      start_pprofd "${WL_PID}"
      PPROFD_FLAGS=()
      n0=$(curl -sf "${PP_URL}/metrics" | awk '$1 == "pprofd_cpu_samples_received_total" { print $2 }')
      cpu0=$(task_cpu_ns "${PP_PID}")
      workload_go
      workload_wait_result
      cpu1=$(task_cpu_ns "${PP_PID}")
      n1=$(curl -sf "${PP_URL}/metrics" | awk '$1 == "pprofd_cpu_samples_received_total" { print $2 }')
      bpf=$(bpf_stats_of "${PP_PID}")
      stop_pprofd
      samples=$((n1 - n0))
      agent_ms=$(awk -v a="${cpu0}" -v b="${cpu1}" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
      bpf_ms=$(awk -v n="${bpf% *}" 'BEGIN { printf "%.3f", n / 1e6 }')
      bpf_runs=${bpf#* }
      ;;
    perf-*)
      local hz=${mode#perf-} data="${BENCH_TMP}/perf.data" perf_pid cpu0 total_s sub_pid
      rm -f "${data}" "${BENCH_TMP}/perf.pid" "${BENCH_TMP}/perf.times"
      # The subshell's `times` gives perf's CPU time including its work after SIGINT (flush,
      # build-ids), which /proc cannot show once it has exited.
      (
        perf record -q -e cpu-clock -F "${hz}" --call-graph dwarf -p "${WL_PID}" -o "${data}" \
          2>>"${BENCH_TMP}/perf.log" &
        echo $! >"${BENCH_TMP}/perf.pid"
        wait $! || true
        times >"${BENCH_TMP}/perf.times"
      ) &
      sub_pid=$!
      wait_for_line "${BENCH_TMP}/perf.pid" '^[0-9]+$' 10 || die "perf did not start"
      perf_pid=$(cat "${BENCH_TMP}/perf.pid")
      wait_until_quiet "${perf_pid}"
      cpu0=$(task_cpu_ns "${perf_pid}")
      workload_go
      workload_wait_result
      kill -INT "${perf_pid}"
      wait "${sub_pid}"
      total_s=$(children_cpu_s "${BENCH_TMP}/perf.times")
      agent_ms=$(awk -v t="${total_s}" -v a="${cpu0}" 'BEGIN { printf "%.3f", t * 1e3 - a / 1e6 }')
      # perf record only copies stacks; the unwinding and symbolization happen here, so its CPU
      # time belongs to perf's cost per sample too.
      (
        perf script -i "${data}" -F tid,ip,sym --no-inline >"${BENCH_TMP}/perf.txt" 2>/dev/null
        times >"${BENCH_TMP}/script.times"
      )
      post_ms=$(awk -v t="$(children_cpu_s "${BENCH_TMP}/script.times")" \
        'BEGIN { printf "%.3f", t * 1e3 }')
      read -r samples complete < <(perf_stack_stats "${BENCH_TMP}/perf.txt")
      complete=$(awk -v n="${samples}" -v c="${complete}" \
        'BEGIN { printf "%.2f", n ? 100 * c / n : 0 }')
      ;;
    *) die "unknown mode ${mode}" ;;
  esac
  finish_workload
  echo "${threads},${mode},${run},${WL_WALL},${WL_CPU},${samples},${complete},${agent_ms},${bpf_ms},${bpf_runs},${WL_BUSY},${post_ms}" >>"${CSV}"
  log "threads=${threads} ${mode} run ${run}: wall ${WL_WALL}s busy ${WL_BUSY}s samples ${samples:-} complete ${complete:-}% agent ${agent_ms:-}ms bpf ${bpf_ms:-}ms post ${post_ms:-}ms"
}

for threads in ${THREADS}; do
  # Warm-up run (discarded): page cache, CPU frequency, and the profile window for this size.
  start_workload "${threads}" "${ITERATIONS}"
  workload_go
  workload_wait_result
  finish_workload
  WINDOW=$(awk -v w="${WL_WALL}" 'BEGIN { printf "%d", w * 1.5 + 2 }')
  eval "WINDOW_${threads}=${WINDOW}"
  log "threads=${threads}: warm-up wall ${WL_WALL}s, profile window ${WINDOW}s"
done

for run in $(seq "${RUNS}"); do
  for threads in ${THREADS}; do
    window_var="WINDOW_${threads}"
    for mode in ${MODES}; do
      run_one "${threads}" "${mode}" "${run}" "${!window_var}"
    done
  done
done

# Summary: medians per (threads, mode); slowdowns against the baseline medians of the same size.
# Wall time is the honest measure (the agent's own CPU competes with the target) but other load on
# the machine disturbs it; the target's CPU time is immune to that and shows the cost inside the
# target (sampling interrupts, BPF, cache); "others" is the CPU the rest of the machine used.
summarize() {
  local threads mode base_wall base_cpu wall cpu samples complete per_sample bpf_per post_per others
  echo "| threads | mode | wall s | slowdown (wall) | target CPU s | slowdown (CPU) | others' CPU s | samples | complete stacks | agent CPU per sample | of which BPF | perf script per sample |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for threads in ${THREADS}; do
    col() { awk -F, -v t="${threads}" -v m="$1" -v c="$2" '$1 == t && $2 == m { print $c }' "${CSV}"; }
    base_wall=$(col baseline 4 | median)
    base_cpu=$(col baseline 5 | median)
    for mode in ${MODES}; do
      wall=$(col "${mode}" 4 | median)
      cpu=$(col "${mode}" 5 | median)
      others=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m {
        print $11 - $5 - $8 / 1000 }' "${CSV}" | median)
      if [[ ${mode} == baseline ]]; then
        printf '| %s | %s | %.3f | - | %.3f | - | %.2f | - | - | - | - | - |\n' "${threads}" "${mode}" \
          "${wall}" "${cpu}" "${others}"
        continue
      fi
      samples=$(col "${mode}" 6 | median)
      complete=$(col "${mode}" 7 | median)
      # Per run: (user-space CPU + BPF run time) / samples; then the median over runs.
      per_sample=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m && $6 > 0 {
        print ($8 + ($9 == "" ? 0 : $9)) * 1000 / $6 }' "${CSV}" | median)
      post_per="-"
      if [[ ${mode} == perf-* ]]; then
        bpf_per="n/a (kernel, not measured)"
        post_per=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m && $6 > 0 {
          print $12 * 1000 / $6 }' "${CSV}" | median | awk '{ printf "%.1f us", $1 }')
      else
        bpf_per=$(awk -F, -v t="${threads}" -v m="${mode}" '$1 == t && $2 == m && $6 > 0 {
          print $9 * 1000 / $6 }' "${CSV}" | median | awk '{ printf "%.1f us", $1 }')
      fi
      printf '| %s | %s | %.3f | %+.2f%% | %.3f | %+.2f%% | %.2f | %s | %s%% | %.1f us | %s | %s |\n' \
        "${threads}" "${mode}" "${wall}" "$(awk -v a="${wall}" -v b="${base_wall}" 'BEGIN { print (a / b - 1) * 100 }')" \
        "${cpu}" "$(awk -v a="${cpu}" -v b="${base_cpu}" 'BEGIN { print (a / b - 1) * 100 }')" \
        "${others}" "${samples}" "${complete}" "${per_sample}" "${bpf_per}" "${post_per}"
    done
  done
}
summarize | tee "${OUT_DIR}/overhead.md"
rm -rf "${BENCH_TMP}"
