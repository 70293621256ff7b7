#!/usr/bin/env bash
# Builds pprofd and runs it. Without --pid it starts the bundled demo workload, attaches to it and
# prints the `go tool pprof` command to try. Arguments go to pprofd.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/packaging/build.sh" --agent
exec "$root/build/agent/pprofd" "$@"
