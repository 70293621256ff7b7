#include "agent/preflight.h"

#include <linux/capability.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

namespace pprofd {
namespace {

uint64_t Bit(int cap) { return uint64_t{1} << cap; }

std::string WriteTemp(const std::string& content) {
  char path[] = "/tmp/pprofd-btf-test-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  return path;
}

TEST_CASE("Capabilities: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN for both", "[preflight]") {
  CHECK(CheckCapabilitySet(Bit(CAP_BPF) | Bit(CAP_PERFMON)).ok());
  CHECK(CheckCapabilitySet(Bit(CAP_SYS_ADMIN)).ok());
  CHECK(CheckCapabilitySet(~uint64_t{0}).ok());

  Status no_bpf = CheckCapabilitySet(Bit(CAP_PERFMON) | Bit(CAP_SYS_PTRACE));
  REQUIRE_FALSE(no_bpf.ok());
  CHECK(no_bpf.message().starts_with("missing capability CAP_BPF (to load the sampling program)"));

  Status no_perfmon = CheckCapabilitySet(Bit(CAP_BPF));
  REQUIRE_FALSE(no_perfmon.ok());
  CHECK(no_perfmon.message().starts_with("missing capability CAP_PERFMON"));
  CHECK(no_perfmon.message().find("grant it CAP_PERFMON") != std::string::npos);

  Status none = CheckCapabilitySet(0);
  REQUIRE_FALSE(none.ok());
  CHECK(none.message().find('\n') == std::string::npos);
}

TEST_CASE("Capabilities of this test process", "[preflight]") {
  // The tests run as root, which has them all.
  CHECK(CheckCapabilities().ok());
}

TEST_CASE("BTF header: raw BTF of either byte order, or ELF", "[preflight]") {
  CHECK(CheckBtfHeader("x", std::string("\x9f\xeb\x01\x00", 4)).ok());
  CHECK(CheckBtfHeader("x", std::string("\xeb\x9f\x01\x00", 4)).ok());
  CHECK(CheckBtfHeader("x",
                       "\x7f"
                       "ELF")
            .ok());
  Status text = CheckBtfHeader("/etc/hostname", "host");
  REQUIRE_FALSE(text.ok());
  CHECK(
      text.message().starts_with("BTF file /etc/hostname is neither raw BTF nor ELF: pass --btf"));
  CHECK_FALSE(CheckBtfHeader("x", "").ok());
  CHECK_FALSE(CheckBtfHeader("x", "\x9f").ok());
}

TEST_CASE("BTF file checks", "[preflight]") {
  CHECK(CheckKernelBtf("/sys/kernel/btf/vmlinux").ok());

  Status missing = CheckKernelBtf("/nonexistent");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message() ==
        "cannot open BTF file /nonexistent: No such file or directory; pass --btf PATH with a "
        "readable BTF file for this kernel (default /sys/kernel/btf/vmlinux)");

  Status directory = CheckKernelBtf("/tmp");
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.message().starts_with("cannot read BTF file /tmp: Is a directory; "));

  std::string not_btf = WriteTemp("hello world\n");
  Status bad = CheckKernelBtf(not_btf);
  CHECK_FALSE(bad.ok());
  ::unlink(not_btf.c_str());

  std::string empty = WriteTemp("");
  CHECK_FALSE(CheckKernelBtf(empty).ok());
  ::unlink(empty.c_str());

  std::string raw = WriteTemp(std::string("\x9f\xeb\x01\x00rest", 8));
  CHECK(CheckKernelBtf(raw).ok());
  ::unlink(raw.c_str());
}

}  // namespace
}  // namespace pprofd
