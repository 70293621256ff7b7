#!/usr/bin/env bash
# Installs the dependencies and builds pprofd, its demo workload and its tests into build/.
# The compiler's output goes to build/build.log; its tail is shown when the build fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/packaging/install-deps.sh"
mkdir -p "$root/build"
log="$root/build/build.log"
echo "building pprofd in $root/build (log: $log)" >&2
if ! { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$root/build" -j"$(nproc)"; } >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  echo "build failed: see $log" >&2
  exit 1
fi
