#!/usr/bin/env bash
# Set-up of the VM tests (the vm_prepare CTest fixture): the cached guest image (build_image.sh)
# and the .deb of this build (cpack), both under BUILD_DIR/vm.
# Usage: prepare.sh BUILD_DIR
set -euo pipefail
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "vm test: needs root (debootstrap, chroot, mount)" >&2
  exit 1
fi
command -v cpack >/dev/null || { echo "vm test: cpack not found: apt-get install cmake" >&2; exit 1; }
start=$(date +%s)
"$here/build_image.sh" "$build/vm/image" >/dev/null
mid=$(date +%s)
rm -rf "$build/vm/deb"
mkdir -p "$build/vm/deb"
(cd "$build/vm/deb" && cpack -G DEB -B "$build/vm/deb" --config "$build/CPackConfig.cmake" >cpack.log 2>&1) ||
  { tail -20 "$build/vm/deb/cpack.log" >&2; echo "vm test: cpack failed" >&2; exit 1; }
cp "$build"/vm/deb/pprofd_*.deb "$build/vm/pprofd.deb"
echo "vm test: image $((mid - start)) s (cached when its inputs are unchanged), .deb $(( $(date +%s) - mid )) s" >&2
