#include "agent/app/kernel_version.h"

#include <catch2/catch.hpp>

namespace pprofd {
namespace {

KernelVersion Upstream(const std::string& release, const std::string& version,
                       const std::string& signature = "") {
  auto parsed = UpstreamKernelVersion(KernelIdentity{release, version, signature});
  REQUIRE(parsed.ok());
  return *parsed;
}

// The identities below are those of real kernels: Debian's from the VM tests' guests
// (tests/vm) and this machine, Ubuntu's from /proc/version_signature on Ubuntu 22.04.
TEST_CASE("Kernel version: Debian's uname -v holds the upstream version the release hides",
          "[kernel_version]") {
  CHECK(Upstream("6.1.0-28-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)") ==
        KernelVersion{6, 1, 119});
  CHECK(Upstream("5.10.0-32-amd64", "#1 SMP Debian 5.10.223-1 (2024-08-10)") ==
        KernelVersion{5, 10, 223});
  CHECK(Upstream("6.12.95+deb12-amd64",
                 "#1 SMP PREEMPT_DYNAMIC Debian 6.12.95-1~bpo12+1 (2026-01-01)") ==
        KernelVersion{6, 12, 95});
  // An early Debian 12 kernel: the release says 6.1.0, the real one is before the fix.
  CHECK(Upstream("6.1.0-9-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1 (2023-05-08)") ==
        KernelVersion{6, 1, 27});
}

TEST_CASE("Kernel version: Ubuntu's version_signature comes first", "[kernel_version]") {
  CHECK(Upstream("5.15.0-91-generic", "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023",
                 "Ubuntu 5.15.0-91.101-generic 5.15.131\n") == KernelVersion{5, 15, 131});
}

TEST_CASE("Kernel version: otherwise the release", "[kernel_version]") {
  CHECK(Upstream("6.18.44-fc-v1272", "#1 SMP PREEMPT_DYNAMIC @0") == KernelVersion{6, 18, 44});
  CHECK(Upstream("6.12-rc1", "#1 SMP") == KernelVersion{6, 12, 0});
  CHECK(Upstream("6.3.9", "#1 SMP PREEMPT_DYNAMIC") == KernelVersion{6, 3, 9});
  // "Debian" not followed by a version is no version.
  CHECK(Upstream("6.5.2-custom", "#1 SMP built on Debian (2023)") == KernelVersion{6, 5, 2});
  // A signature without a version falls through too.
  CHECK(Upstream("6.2.0-39-generic", "#40-Ubuntu SMP", "garbage") == KernelVersion{6, 2, 0});
}

TEST_CASE("Kernel version: an unreadable release is an error naming it", "[kernel_version]") {
  auto parsed = UpstreamKernelVersion(KernelIdentity{"weird", "#1 SMP", ""});
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().message().find("'weird'") != std::string::npos);
  CHECK_FALSE(UpstreamKernelVersion(KernelIdentity{"", "", ""}).ok());
  CHECK_FALSE(UpstreamKernelVersion(KernelIdentity{"0.1", "", ""}).ok());
}

TEST_CASE("Freeze bug: the ranges the OTel profiler refuses, with their edges",
          "[kernel_version]") {
  // Affected.
  for (KernelVersion v : {KernelVersion{5, 19, 0}, KernelVersion{5, 19, 17}, KernelVersion{6, 0, 0},
                          KernelVersion{6, 0, 19}, KernelVersion{6, 1, 0}, KernelVersion{6, 1, 35},
                          KernelVersion{6, 2, 0}, KernelVersion{6, 2, 16}, KernelVersion{6, 3, 0},
                          KernelVersion{6, 3, 9}}) {
    INFO(v.ToString());
    CHECK(HasProbeReadFreezeBug(v));
  }
  // Not affected: before 5.19, the stable fixes, 6.4 and later, Debian's kernels of the VM tests.
  for (KernelVersion v :
       {KernelVersion{4, 19, 0}, KernelVersion{5, 10, 223}, KernelVersion{5, 15, 131},
        KernelVersion{5, 18, 19}, KernelVersion{6, 1, 36}, KernelVersion{6, 1, 119},
        KernelVersion{6, 3, 10}, KernelVersion{6, 4, 0}, KernelVersion{6, 12, 95},
        KernelVersion{6, 18, 44}, KernelVersion{7, 0, 0}}) {
    INFO(v.ToString());
    CHECK_FALSE(HasProbeReadFreezeBug(v));
  }
}

TEST_CASE("Freeze bug: refused in one line naming the kernel and the flag, unless allowed",
          "[kernel_version]") {
  const KernelIdentity early_debian{"6.1.0-9-amd64",
                                    "#1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1 (2023-05-08)", ""};
  Status refused = CheckKernelFreezeBug(early_debian, /*allowed=*/false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find('\n') == std::string::npos);
  CHECK(refused.message().find("kernel 6.1.0-9-amd64 (upstream 6.1.27)") != std::string::npos);
  CHECK(refused.message().find("--allow-freeze-prone-kernel") != std::string::npos);
  CHECK(CheckKernelFreezeBug(early_debian, /*allowed=*/true).ok());
  // A fixed Debian 6.1, though its release says 6.1.0.
  CHECK(CheckKernelFreezeBug(
            KernelIdentity{"6.1.0-28-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
                           ""},
            false)
            .ok());
  // An unreadable version is let through (with a warning), not a refusal.
  CHECK(CheckKernelFreezeBug(KernelIdentity{"weird", "", ""}, false).ok());
  // This machine's kernel starts.
  CHECK(CheckKernelFreezeBug(ReadKernelIdentity(), false).ok());
}

}  // namespace
}  // namespace pprofd
