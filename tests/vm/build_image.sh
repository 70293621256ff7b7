#!/usr/bin/env bash
# Builds the guest image of the VM tests, once per set of inputs (this script, the package list):
#   CACHE/root.img           ext4 root file system: debootstrapped Debian 12, systemd as PID 1, the
#                            libraries pprofd links, three Debian kernels' modules
#   CACHE/vmlinuz-<ver>      the kernels, from Debian's own packages
#   CACHE/initrd.img-<ver>   their initramfs, made by initramfs-tools inside the root
# Usage: build_image.sh CACHE_DIR   (prints nothing on a cache hit but the directory)
# Needs root, debootstrap, e2fsprogs and the Debian archive (deb.debian.org).
set -euo pipefail
cache="$1"
mirror="${PPROFD_VM_MIRROR:-http://deb.debian.org/debian}"

# Libraries of the .deb (its Depends) and what the guest test script runs.
packages="systemd,systemd-sysv,udev,dbus,initramfs-tools,kmod,procps,curl,ca-certificates,\
libbpf1,libdw1,libelf1,libprotobuf32,libssl3,zlib1g,libstdc++6,libgcc-s1,iproute2,util-linux"
# The kernels: "suite package-pattern". Each suite's newest linux-image-*-amd64 of that series.
kernels=("bookworm linux-image-6.1" "bookworm-backports linux-image-6.12" "bullseye linux-image-5.10")

key="$( { cat "$0"; echo "$packages" "${kernels[*]}" "$mirror"; } | sha256sum | cut -c1-16)"
if [ -f "$cache/done-$key" ]; then
  echo "$cache"
  exit 0
fi
for tool in debootstrap mke2fs; do
  if ! command -v "$tool" >/dev/null; then
    echo "vm image: $tool not found: apt-get install debootstrap e2fsprogs" >&2
    exit 1
  fi
done
rm -rf "$cache"
mkdir -p "$cache"
root="$cache/root"
echo "vm image: debootstrap bookworm into $root" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
  { tail -20 "$cache/debootstrap.log" >&2; echo "vm image: debootstrap failed (log: $cache/debootstrap.log)" >&2; exit 1; }

# The kernel packages, resolved and downloaded by apt with a private state directory.
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/debs"
cat >"$apt_dir/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-backports main
deb $mirror bullseye main
EOF
apt_opts=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::State::Status=/dev/null
          -o APT::Default-Release= -q)
apt-get "${apt_opts[@]}" update >"$cache/apt.log" 2>&1 ||
  { tail -20 "$cache/apt.log" >&2; echo "vm image: apt-get update failed" >&2; exit 1; }
for k in "${kernels[@]}"; do
  suite="${k%% *}"
  pattern="${k#* }"
  # The newest package of that series built for amd64 (not -rt, -cloud, unsigned or dbg).
  name="$(apt-cache "${apt_opts[@]}" search --names-only "^${pattern//./\\.}\\.[0-9.+~a-z-]*-amd64\$" |
          awk '{print $1}' | grep -v -e unsigned -e dbg -e cloud -e rt- | sort -V | tail -1)"
  if [ -z "$name" ]; then
    echo "vm image: no $pattern*-amd64 package in $suite" >&2
    exit 1
  fi
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "$name/$suite" >>"$cache/apt.log" 2>&1) ||
    { tail -20 "$cache/apt.log" >&2; echo "vm image: download of $name/$suite failed" >&2; exit 1; }
done

# Install the kernels into the root: their postinst runs initramfs-tools, which writes the initrd.
# Only what mounts the root (a virtio disk, ext4) goes in it: MODULES=most (Debian's default)
# copies about a thousand modules per kernel and took minutes per initrd under load.
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic >>"$root/etc/initramfs-tools/modules"
mkdir -p "$root/tmp/kernels"
cp "$cache"/debs/*.deb "$root/tmp/kernels/"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
# linux-base of bookworm is older than some backported kernels ask for; it is enough to boot.
if ! chroot "$root" sh -c 'dpkg -i --force-depends /tmp/kernels/*.deb' >"$cache/kernels.log" 2>&1; then
  tail -30 "$cache/kernels.log" >&2
  echo "vm image: installing the kernel packages failed (log: $cache/kernels.log)" >&2
  exit 1
fi
umount "$root/proc"
trap - EXIT
rm -rf "$root/tmp/kernels"
cp "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-* "$cache/"

# The guest: a root password-less console, a hostname, the test unit started at boot.
echo pprofd-vm >"$root/etc/hostname"
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" >"$root/etc/fstab"
# The test unit: mounts the payload disk (the .deb, the test script) and runs its script, which
# writes its results back to that disk and powers the guest off.
cat >"$root/etc/systemd/system/pprofd-vmtest.service" <<'EOF'
[Unit]
Description=pprofd VM test (script on the payload disk /dev/vdb)
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStartPre=/bin/mkdir -p /payload
ExecStartPre=/bin/mount /dev/vdb /payload
ExecStart=/bin/sh /payload/guest_test.sh
ExecStopPost=/bin/sh -c 'sync; systemctl poweroff --no-block'
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/pprofd-vmtest.service \
  "$root/etc/systemd/system/multi-user.target.wants/pprofd-vmtest.service"
# No getty on the serial console: the console carries the test's own output.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
rm -f "$root"/var/cache/apt/archives/*.deb

echo "vm image: writing root.img" >&2
size_mb=$(( $(du -sm "$root" | cut -f1) + 768 ))
mke2fs -q -t ext4 -L pprofd-root -d "$root" "$cache/root.img" "${size_mb}M"
rm -rf "$root"
touch "$cache/done-$key"
echo "$cache"
