#!/usr/bin/env bash
# Installs the dependencies and builds into build/. With --agent: only what running pprofd needs
# (its build dependencies; the agent and its demo workload). Without: everything, tests and
# benchmarks included. The compiler's output goes to build/build.log; its tail is shown when the
# build fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scope=all
if [ "${1:-}" = "--agent" ]; then
  scope=agent
fi
"$root/packaging/install-deps.sh" "$scope"
mkdir -p "$root/build"
log="$root/build/build.log"
echo "building pprofd in $root/build (log: $log)" >&2
if [ "$scope" = agent ]; then
  configure=(-DPPROFD_BUILD_TESTS=OFF -DPPROFD_BUILD_BENCH=OFF)
  targets=(--target pprofd pprofd-demo)
else
  configure=(-DPPROFD_BUILD_TESTS=ON -DPPROFD_BUILD_BENCH=ON)
  targets=()
fi
if ! { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${configure[@]}" &&
       cmake --build "$root/build" -j"$(nproc)" "${targets[@]}"; } >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  echo "build failed: see $log" >&2
  exit 1
fi
