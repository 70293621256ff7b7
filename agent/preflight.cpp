#include "agent/preflight.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace pprofd {

Status CheckKernelBtf() {
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return Status::Error(
        "kernel BTF not found at /sys/kernel/btf/vmlinux: pprofd needs a kernel built with "
        "CONFIG_DEBUG_INFO_BTF=y (Debian's kernels have it)");
  }
  return Status::Ok();
}

Status CheckCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return ErrnoError("capget", errno);
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  struct Needed {
    int cap;
    const char* name;
    const char* why;
  };
  static const Needed kNeeded[] = {
      {CAP_BPF, "CAP_BPF", "to load the sampling program"},
      {CAP_PERFMON, "CAP_PERFMON", "to open perf events on every CPU"},
      {CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "to read the target's /proc/PID/maps and files"},
  };
  for (const Needed& needed : kNeeded) {
    if (!has(needed.cap)) {
      return Status::Error(StrCat("missing capability ", needed.name, " (", needed.why,
                                  "): run pprofd as root or grant it, e.g. "
                                  "AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE "
                                  "CAP_DAC_READ_SEARCH in its systemd unit"));
    }
  }
  return Status::Ok();
}

}  // namespace pprofd
