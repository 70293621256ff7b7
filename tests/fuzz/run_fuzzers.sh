#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan, UBSan) and runs one of them.
# usage: run_fuzzers.sh SOURCE_DIR BUILD_DIR SECONDS {build|HARNESS} [EXTRA_SEED_FILE...]
#   build     configure and build every harness in BUILD_DIR (-DPPROFD_FUZZ=ON), nothing else
#   HARNESS   run BUILD_DIR/tests/fuzz/harnesses/HARNESS for SECONDS from the seeds in
#             SOURCE_DIR/tests/fuzz/corpus/HARNESS plus the extra files; the corpus it grows is
#             kept in BUILD_DIR/corpus/HARNESS, a finding in BUILD_DIR/findings/HARNESS/.
# Exits non-zero on a build failure or any finding (crash, sanitizer report, leak, timeout).
set -euo pipefail
src="$1" build="$2" seconds="$3" what="$4"
shift 4
if [ "$what" = build ]; then
  cc="$(command -v clang-14 || command -v clang)"
  cxx="$(command -v clang++-14 || command -v clang++)"
  cmake -S "$src" -B "$build" -DPPROFD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
  cmake --build "$build" --target fuzzers -j2 | tail -3
  exit 0
fi
binary="$build/tests/fuzz/harnesses/$what"
[ -x "$binary" ] || { echo "$binary missing: run $0 $src $build 0 build first" >&2; exit 2; }
corpus="$build/corpus/$what"
findings="$build/findings/$what"
mkdir -p "$corpus" "$findings"
seeds="$src/tests/fuzz/corpus/$what"
for extra in "$@"; do
  [ -f "$extra" ] && cp -f "$extra" "$corpus/seed-$(basename "$extra")"
done
# -timeout: one input taking longer is a finding (a hang); -rss_limit_mb: so is memory past 2 GiB.
max_len=65536
[ "$what" = fuzz_elf_file ] && max_len=1048576  # whole small executables
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
  -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "$seeds"
