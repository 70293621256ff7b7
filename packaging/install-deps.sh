#!/usr/bin/env bash
# Installs pprofd's dependencies from Debian 12's packages: `install-deps.sh agent` only what
# building and running the agent needs, `install-deps.sh` (or `all`) the tests' too. Idempotent:
# does nothing when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang llvm libbpf-dev bpftool
  libboost-dev libprotobuf-dev protobuf-compiler
  libdw-dev libelf-dev zlib1g-dev libssl-dev
  libiberty-dev             # cplus_demangle: C++ and Rust (legacy and v0) names
)
test_packages=(
  catch2
  golang-go        # `go tool pprof`, the client the end-to-end tests use
  binutils elfutils xz-utils util-linux libcap2-bin
  libssl-dev openssl curl   # TLS for the server; the tests' certificates and client
  dpkg-dev file             # cpack -G DEB and its dpkg-shlibdeps
  systemd                   # systemd-analyze verify on the units (systemd is not PID 1 here)
  prometheus                # promtool check metrics on /metrics
  lld musl-tools            # fixtures: lld-linked and musl-linked targets
  linux-perf                # the peer the end-to-end tests compare stacks with
  golang-github-google-pprof-dev  # upstream pprof's source, for its -weblist on native binaries
  libclang-rt-14-dev        # libFuzzer and the sanitizers' runtimes for the fuzz tests (tests/fuzz)
  debootstrap qemu-system-x86 seabios e2fsprogs  # Debian-kernel guests with systemd (tests/vm)
  lintian                   # the .deb checked against Debian policy (tests/packaging)
)
# A Rust fixture needs rustc; Debian's (1.63) when the machine has no rustup toolchain.
if ! command -v rustc >/dev/null 2>&1 && [ ! -x "${HOME:-/root}/.cargo/bin/rustc" ]; then
  test_packages+=(rustc)
fi
if [ "${1:-all}" != agent ]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
