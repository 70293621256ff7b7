#include "agent/app/preflight.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/sampling/perf_event.h"
#include "base/file_util.h"
#include "base/log.h"
#include "base/scoped_fd.h"

namespace pprofd {
namespace {

constexpr char kDefaultBtf[] = "/sys/kernel/btf/vmlinux";

// Appended to every BTF error: how to get a usable file.
std::string BtfAdvice(std::string_view path) {
  if (path == kDefaultBtf) {
    return "this kernel was built without CONFIG_DEBUG_INFO_BTF; pass --btf PATH with a BTF file "
           "for this kernel (e.g. from BTFHub)";
  }
  return "pass --btf PATH with a readable BTF file for this kernel (default "
         "/sys/kernel/btf/vmlinux)";
}

bool Has(uint64_t effective, int cap) { return ((effective >> cap) & 1u) != 0; }

struct RequiredCapability {
  int cap;
  int stand_in;  // a capability that grants the same (-1: none)
  const char* name;
  const char* why;
};

// In the order a reader of the unit file meets them.
constexpr RequiredCapability kRequired[] = {
    {CAP_BPF, CAP_SYS_ADMIN, "CAP_BPF", "to load the BPF sampling programs and their maps"},
    {CAP_PERFMON, CAP_SYS_ADMIN, "CAP_PERFMON",
     "to open perf events on every CPU and attach tracing programs"},
    {CAP_SYS_PTRACE, -1, "CAP_SYS_PTRACE",
     "to read the maps and binaries of another user's process"},
    {CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE, "CAP_DAC_READ_SEARCH",
     "to read the target's binaries in private directories and its vdso"},
};

// A sysctl's integer value, or `fallback` when it cannot be read.
int ReadSysctl(const char* path, int fallback) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text->c_str(), &end, 10);
  return end == text->c_str() ? fallback : static_cast<int>(value);
}

}  // namespace

Status CheckBtfHeader(std::string_view path, std::string_view first_bytes) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(first_bytes[i]); };
  if (first_bytes.size() >= 2) {
    const bool btf = (byte(0) == 0x9f && byte(1) == 0xeb) || (byte(0) == 0xeb && byte(1) == 0x9f);
    if (btf) return Status::Ok();
  }
  if (first_bytes.size() >= 4 && first_bytes.substr(0, 4) ==
                                     "\x7f"
                                     "ELF")
    return Status::Ok();
  return Status::Error(StrCat("BTF file ", path, " is neither raw BTF nor ELF: ", BtfAdvice(path)));
}

Status CheckKernelBtf(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return Status::Error(
        StrCat("cannot open BTF file ", path, ": ", std::strerror(err), "; ", BtfAdvice(path)));
  }
  char header[4];
  const ssize_t n = ::read(fd.get(), header, sizeof(header));
  if (n < 0) {
    const int err = errno;
    return Status::Error(
        StrCat("cannot read BTF file ", path, ": ", std::strerror(err), "; ", BtfAdvice(path)));
  }
  return CheckBtfHeader(path, std::string_view(header, static_cast<size_t>(n)));
}

Status CheckCapabilitySet(uint64_t effective) {
  std::string missing;
  int count = 0;
  for (const RequiredCapability& needed : kRequired) {
    if (Has(effective, needed.cap)) continue;
    if (needed.stand_in >= 0 && Has(effective, needed.stand_in)) continue;
    missing += StrCat(count == 0 ? "" : ", ", needed.name, " (", needed.why, ")");
    ++count;
  }
  if (count == 0) return Status::Ok();
  return Status::Error(StrCat("missing ", count == 1 ? "capability " : "capabilities ", missing,
                              ": run pprofd as root or add ", count == 1 ? "it" : "them",
                              " to AmbientCapabilities= and CapabilityBoundingSet= in its "
                              "systemd unit (outside systemd: setpriv --ambient-caps)"));
}

std::vector<std::string> OptionalCapabilityWarnings(uint64_t effective,
                                                    const KallsymsSysctls& sysctls) {
  std::vector<std::string> warnings;
  // The kernel's kallsyms_show_value(): kptr_restrict=0 shows addresses to everyone when
  // perf_event_paranoid <= 1, else to CAP_SYSLOG; 1 to CAP_SYSLOG only; 2 to nobody (no
  // capability helps then, and the symbolizer says so when it loads /proc/kallsyms).
  const bool visible_to_all = sysctls.kptr_restrict == 0 && sysctls.perf_event_paranoid <= 1;
  if (!Has(effective, CAP_SYSLOG) && !visible_to_all && sysctls.kptr_restrict < 2) {
    const std::string hidden_by = sysctls.kptr_restrict == 1 ? std::string("kernel.kptr_restrict=1")
                                                             : StrCat("kernel.perf_event_paranoid=",
                                                                      sysctls.perf_event_paranoid);
    warnings.push_back(StrCat(
        "missing capability CAP_SYSLOG (to read kernel symbol addresses in /proc/kallsyms, hidden "
        "by ",
        hidden_by,
        "): kernel frames will show as [kernel]+0xADDR; run pprofd as root or add CAP_SYSLOG to "
        "AmbientCapabilities= and CapabilityBoundingSet= in its systemd unit"));
  }
  return warnings;
}

StatusOr<uint64_t> EffectiveCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return ErrnoError("capget", errno);
  return uint64_t{data[0].effective} | (uint64_t{data[1].effective} << 32);
}

Status CheckCapabilities() {
  auto effective = EffectiveCapabilities();
  if (!effective.ok()) return effective.status();
  if (Status status = CheckCapabilitySet(*effective); !status.ok()) return status;
  KallsymsSysctls sysctls;
  // Unreadable sysctls count as the restrictive defaults: better a needless warning than
  // unexplained kernel addresses.
  sysctls.kptr_restrict = ReadSysctl("/proc/sys/kernel/kptr_restrict", 1);
  sysctls.perf_event_paranoid = ReadSysctl("/proc/sys/kernel/perf_event_paranoid", 2);
  for (const std::string& warning : OptionalCapabilityWarnings(*effective, sysctls)) {
    LogWarning(warning);
  }
  // Capabilities are not the whole story: Debian's kernel.perf_event_paranoid=3 refuses
  // CAP_PERFMON. One probe now says so once, instead of a 500 at the first profile.
  if (auto event = sampling::OpenCpuClockEvent(0, 10000000); !event.ok()) {
    LogWarning(
        StrCat("CPU profiles, /mutex and heap uprobes will fail: ", event.status().message()));
  }
  return Status::Ok();
}

}  // namespace pprofd
