#!/usr/bin/env bash
# Builds pprofd and runs every test: unit and end-to-end (real BPF, real `go tool pprof`).
# Needs root (or CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): the end-to-end tests fail without it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/packaging/build.sh"
# The futex tracepoints of /mutex are found through tracefs, which a fresh boot may not have
# mounted (systemd mounts it on most hosts); the off-CPU tests need it.
if [ ! -d /sys/kernel/tracing/events ] && [ "$(id -u)" -eq 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing
fi
cd "$root/build"
ctest --output-on-failure --timeout 600 "$@"
