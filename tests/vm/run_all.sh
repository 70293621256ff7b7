#!/usr/bin/env bash
# The VM test matrix (the vm_kernels CTest test): one guest per kernel series, booted at the same
# time (each guest spends most of its time in profile windows and boots; in parallel the matrix
# took about as long as its slowest kernel, see tests/vm/README.md), then each one's checks.
# Usage: run_all.sh BUILD_DIR [SERIES...]   (default: 6.1 6.12 5.10)
set -uo pipefail
build="$1"
shift
here="$(cd "$(dirname "$0")" && pwd)"
series=("$@")
[ ${#series[@]} -gt 0 ] || series=(6.1 6.12 5.10)
start=$(date +%s)
pids=()
for s in "${series[@]}"; do
  mkdir -p "$build/vm"
  "$here/run_vm_test.sh" "$s" "$build" "$build/vm/results-$s" >"$build/vm/run-$s.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!series[@]}"; do
  if wait "${pids[$i]}"; then status=passed; else status=FAILED; failed=1; fi
  echo "===== kernel ${series[$i]}: $status (log: $build/vm/run-${series[$i]}.log)"
  cat "$build/vm/run-${series[$i]}.log"
done
echo "vm matrix: $(( $(date +%s) - start )) s for ${series[*]}"
exit $failed
