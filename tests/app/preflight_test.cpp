#include "agent/app/preflight.h"

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

constexpr uint64_t kDocumentedSet =
    (uint64_t{1} << CAP_BPF) | (uint64_t{1} << CAP_PERFMON) | (uint64_t{1} << CAP_SYS_PTRACE) |
    (uint64_t{1} << CAP_DAC_READ_SEARCH) | (uint64_t{1} << CAP_SYSLOG);

TEST_CASE("Capabilities: the documented set passes, each required one is named when missing",
          "[preflight]") {
  CHECK(CheckCapabilitySet(kDocumentedSet).ok());
  CHECK(CheckCapabilitySet(~uint64_t{0}).ok());
  // CAP_SYSLOG is optional: its absence is a warning, not an error.
  CHECK(CheckCapabilitySet(kDocumentedSet & ~Bit(CAP_SYSLOG)).ok());

  const struct {
    int cap;
    const char* expected;
  } kCases[] = {
      {CAP_BPF, "missing capability CAP_BPF (to load the BPF sampling programs and their maps): "},
      {CAP_PERFMON,
       "missing capability CAP_PERFMON (to open perf events on every CPU and attach "
       "tracing programs): "},
      {CAP_SYS_PTRACE,
       "missing capability CAP_SYS_PTRACE (to read the maps and binaries of "
       "another user's process): "},
      {CAP_DAC_READ_SEARCH,
       "missing capability CAP_DAC_READ_SEARCH (to read the target's "
       "binaries in private directories and its vdso): "},
  };
  for (const auto& c : kCases) {
    Status status = CheckCapabilitySet(kDocumentedSet & ~Bit(c.cap));
    INFO(c.expected);
    REQUIRE_FALSE(status.ok());
    CHECK(status.message().starts_with(c.expected));
    CHECK(status.message().ends_with(
        ": run pprofd as root or add it to AmbientCapabilities= and CapabilityBoundingSet= in "
        "its systemd unit (outside systemd: setpriv --ambient-caps)"));
    CHECK(status.message().find('\n') == std::string::npos);
  }
}

TEST_CASE("Capabilities: stand-ins the kernel accepts", "[preflight]") {
  // bpf_capable() and perfmon_capable() accept CAP_SYS_ADMIN; CAP_DAC_OVERRIDE grants what
  // CAP_DAC_READ_SEARCH does for reading.
  CHECK(CheckCapabilitySet(Bit(CAP_SYS_ADMIN) | Bit(CAP_SYS_PTRACE) | Bit(CAP_DAC_OVERRIDE)).ok());
  // Nothing stands in for CAP_SYS_PTRACE.
  Status no_ptrace = CheckCapabilitySet(~Bit(CAP_SYS_PTRACE));
  REQUIRE_FALSE(no_ptrace.ok());
  CHECK(no_ptrace.message().starts_with("missing capability CAP_SYS_PTRACE "));
}

TEST_CASE("Capabilities: every missing one in one line", "[preflight]") {
  Status none = CheckCapabilitySet(0);
  REQUIRE_FALSE(none.ok());
  CHECK(none.message() ==
        "missing capabilities CAP_BPF (to load the BPF sampling programs and their maps), "
        "CAP_PERFMON (to open perf events on every CPU and attach tracing programs), "
        "CAP_SYS_PTRACE (to read the maps and binaries of another user's process), "
        "CAP_DAC_READ_SEARCH (to read the target's binaries in private directories and its "
        "vdso): run pprofd as root or add them to AmbientCapabilities= and "
        "CapabilityBoundingSet= in its systemd unit (outside systemd: setpriv --ambient-caps)");
}

TEST_CASE("Capabilities: CAP_SYSLOG warns only when kallsyms hides addresses", "[preflight]") {
  const uint64_t without_syslog = kDocumentedSet & ~Bit(CAP_SYSLOG);
  // This machine's settings: kptr_restrict=0 but perf_event_paranoid=2 hides them.
  auto warnings =
      OptionalCapabilityWarnings(without_syslog, {.kptr_restrict = 0, .perf_event_paranoid = 2});
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0] ==
        "missing capability CAP_SYSLOG (to read kernel symbol addresses in /proc/kallsyms, hidden "
        "by kernel.perf_event_paranoid=2): kernel frames will show as [kernel]+0xADDR; run pprofd "
        "as root or add CAP_SYSLOG to AmbientCapabilities= and CapabilityBoundingSet= in its "
        "systemd unit");
  warnings =
      OptionalCapabilityWarnings(without_syslog, {.kptr_restrict = 1, .perf_event_paranoid = -1});
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("hidden by kernel.kptr_restrict=1)") != std::string::npos);
  // Visible to everyone: nothing to warn about.
  CHECK(OptionalCapabilityWarnings(without_syslog, {.kptr_restrict = 0, .perf_event_paranoid = 1})
            .empty());
  // Hidden from everyone: no capability helps (the symbolizer says so when it loads kallsyms).
  CHECK(OptionalCapabilityWarnings(without_syslog, {.kptr_restrict = 2, .perf_event_paranoid = 2})
            .empty());
  // With CAP_SYSLOG nothing degrades.
  CHECK(OptionalCapabilityWarnings(kDocumentedSet, {.kptr_restrict = 1, .perf_event_paranoid = 2})
            .empty());
}

TEST_CASE("Capabilities of this test process", "[preflight]") {
  // The tests run as root, which has them all.
  auto effective = EffectiveCapabilities();
  REQUIRE(effective.ok());
  CHECK((*effective & kDocumentedSet) == kDocumentedSet);
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
