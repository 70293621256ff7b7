#!/usr/bin/env bash
# The .deb of this build passes lintian with every tag shown (errors, warnings, info, pedantic,
# experimental): intended tags are overridden in packaging/debian/lintian-overrides, each with
# its reason. Fails, never skips, when lintian or cpack is missing.
# Usage: lintian_test.sh BUILD_DIR
set -euo pipefail
build="$1"
for tool in lintian:lintian cpack:cmake; do
  command -v "${tool%%:*}" >/dev/null || { echo "lintian test: ${tool%%:*} not found: apt-get install ${tool##*:}" >&2; exit 1; }
done
out="$build/packaging/lintian"
rm -rf "$out"
mkdir -p "$out"
(cd "$out" && cpack -G DEB -B "$out" --config "$build/CPackConfig.cmake" >cpack.log 2>&1) ||
  { tail -20 "$out/cpack.log" >&2; echo "lintian test: cpack failed" >&2; exit 1; }
deb="$(ls "$out"/pprofd_*.deb)"
# lintian exits 0 on info and pedantic tags: any line at all is a failure here.
tags="$(lintian --tag-display-limit 0 -I -E --pedantic "$deb" 2>&1 | grep -E '^[EWIPX]: ' || true)"
if [ -n "$tags" ]; then
  printf '%s\n' "$tags"
  echo "lintian test: $(printf '%s\n' "$tags" | wc -l) tags on $deb" >&2
  exit 1
fi
echo "lintian test: $deb: no tags"
