#!/usr/bin/env bash
# One VM test: boots Debian's kernel SERIES (5.10, 6.1 or 6.12) under QEMU with the cached Debian 12
# root (systemd as PID 1), installs the pprofd .deb in the guest, runs guest_test.sh there and
# checks what it brought back (check_results.sh). Results, the guest's journal and its console
# are left in OUT_DIR.
# Usage: run_vm_test.sh SERIES BUILD_DIR OUT_DIR
# Needs root, qemu-system-x86_64 (qemu-system-x86), debugfs/mke2fs (e2fsprogs), go (golang-go),
# and the image and .deb made by prepare.sh. Every missing piece is a failure, never a skip.
set -euo pipefail
series="$1"
build="$2"
out="$3"
here="$(cd "$(dirname "$0")" && pwd)"
vm="$build/vm"
need() {
  if ! command -v "$1" >/dev/null; then
    echo "vm test: $1 not found: apt-get install $2" >&2
    exit 1
  fi
}
need qemu-system-x86_64 qemu-system-x86
need debugfs e2fsprogs
need mke2fs e2fsprogs
need go golang-go
image="$vm/image"
kernel="$(ls "$image"/vmlinuz-"$series".* 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$kernel" ]; then
  echo "vm test: no $series kernel in $image: run tests/vm/prepare.sh (the vm_prepare test)" >&2
  exit 1
fi
version="${kernel##*/vmlinuz-}"
if [ ! -f "$vm/pprofd.deb" ]; then
  echo "vm test: $vm/pprofd.deb missing: run tests/vm/prepare.sh (the vm_prepare test)" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out/payload"
cp "$vm/pprofd.deb" "$build/agent/pprofd-demo" "$here/guest_test.sh" "$out/payload/"
# Room for the results: profiles, logs, the journal.
mke2fs -q -t ext4 -L payload -d "$out/payload" "$out/payload.img" 256M

start=$(date +%s)
# TCG: Debian's kernels are not PVM guests, so /dev/kvm (where there is one) cannot run them.
# The root is shared by every boot (snapshot=on: writes go to a temporary file).
timeout "${PPROFD_VM_TIMEOUT:-1800}" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
  -display none -monitor none -no-reboot \
  -serial "file:$out/console.log" \
  -kernel "$kernel" -initrd "$image/initrd.img-$version" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0 loglevel=4" \
  -drive "file=$image/root.img,format=raw,if=virtio,snapshot=on" \
  -drive "file=$out/payload.img,format=raw,if=virtio" \
  -nic none || { echo "vm test: qemu exited $? (timeout or crash); console: $out/console.log" >&2; }
end=$(date +%s)
echo "vm test: kernel $version: guest ran $((end - start)) s" >&2

debugfs -R "rdump /results $out" "$out/payload.img" >/dev/null 2>&1 || true
if [ ! -f "$out/results/codes.txt" ]; then
  tail -40 "$out/console.log" >&2 || true
  echo "vm test: the guest brought back no results (console: $out/console.log)" >&2
  exit 1
fi
"$here/check_results.sh" "$out/results" "$series"
