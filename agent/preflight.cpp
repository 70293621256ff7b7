#include "agent/preflight.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  const auto has = [&](int cap) { return ((effective >> cap) & 1u) != 0; };
  struct Needed {
    int cap;
    const char* name;
    const char* why;
  };
  static const Needed kNeeded[] = {
      {CAP_BPF, "CAP_BPF", "to load the sampling program"},
      {CAP_PERFMON, "CAP_PERFMON", "to open perf events on every CPU and read user stacks"},
  };
  for (const Needed& needed : kNeeded) {
    if (!has(needed.cap) && !has(CAP_SYS_ADMIN)) {
      return Status::Error(StrCat("missing capability ", needed.name, " (", needed.why,
                                  "): run pprofd as root or grant it ", needed.name,
                                  ", e.g. AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE "
                                  "in its systemd unit"));
    }
  }
  return Status::Ok();
}

Status CheckCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return ErrnoError("capget", errno);
  const uint64_t effective = uint64_t{data[0].effective} | (uint64_t{data[1].effective} << 32);
  return CheckCapabilitySet(effective);
}

}  // namespace pprofd
