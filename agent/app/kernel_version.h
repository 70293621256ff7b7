// The running kernel's upstream version, and the refusal to run on kernels with the
// bpf_probe_read_user freeze bug.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pprofd {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  auto operator<=>(const KernelVersion&) const = default;
  std::string ToString() const;
};

// What the kernel says about itself; the parser below does no I/O, so it gets golden tests.
struct KernelIdentity {
  std::string release;            // uname -r: "6.1.0-28-amd64"
  std::string version;            // uname -v: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (...)"
  std::string version_signature;  // /proc/version_signature (Ubuntu), empty where absent
};

// The upstream version, from the most precise source: distributions freeze the release string
// at the first release of a series (Debian's "6.1.0-28-amd64" is 6.1.119), so Ubuntu's
// /proc/version_signature ("Ubuntu 5.15.0-91.101-generic 5.15.131") and Debian's `uname -v`
// ("Debian 6.1.119-1", "Debian 6.12.95-1~bpo12+1") come before the release ("6.18.44-fc-v1272").
StatusOr<KernelVersion> UpstreamKernelVersion(const KernelIdentity& identity);

// True for the kernels where bpf_probe_read_user() can freeze the machine: copy_from_user_nofault()
// did not check nmi_uaccess_okay(), so a read from a BPF program running in NMI context while
// the CPU switches address spaces faults on the wrong mm and deadlocks. Introduced in 5.19, fixed
// in 6.4 by d319f344561d ("mm: Fix copy_from_user_nofault()") and in the stable 6.1.36 and
// 6.3.10; 5.19, 6.0 and 6.2 never got the fix. The ranges are those the OpenTelemetry eBPF
// profiler refuses (hasProbeReadBug in tracer/helper.go of open-telemetry/
// opentelemetry-ebpf-profiler, which also says why and links the stable commits); pprofd copies
// user stacks with bpf_probe_read_user from perf events and from sched_switch.
bool HasProbeReadFreezeBug(const KernelVersion& version);

// The running kernel's identity (uname, /proc/version_signature).
KernelIdentity ReadKernelIdentity();

// An error naming the kernel, the bug and the fixes when the running kernel has the freeze bug
// and `allowed` (--allow-freeze-prone-kernel) is false; a warning when allowed; ok otherwise. A
// kernel whose version cannot be read is let through with a warning.
Status CheckKernelFreezeBug(const KernelIdentity& identity, bool allowed);

}  // namespace pprofd
