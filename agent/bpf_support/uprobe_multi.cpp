#include "agent/bpf_support/uprobe_multi.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/log.h"

namespace pprofd::bpf_support {
namespace {

// The link_create member of the kernel's union bpf_attr with its uprobe_multi variant, as laid
// out since 6.6 (the installed uapi header predates it).
struct LinkCreateUprobeMultiAttr {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t multi_flags;
  uint32_t pid;
};
static_assert(offsetof(LinkCreateUprobeMultiAttr, path) == 16);
static_assert(offsetof(LinkCreateUprobeMultiAttr, pid) == 56);

}  // namespace

StatusOr<ScopedFd> AttachUprobeMulti(int prog_fd, uint32_t attach_type, const std::string& path,
                                     std::span<const uint64_t> offsets,
                                     std::span<const uint64_t> cookies, pid_t pid, int* err) {
  if (err != nullptr) *err = EINVAL;
  if (offsets.empty()) return Status::Error(StrCat("uprobe_multi on ", path, ": no offsets"));
  if (!cookies.empty() && cookies.size() != offsets.size()) {
    return Status::Error(StrCat("uprobe_multi on ", path, ": ", cookies.size(), " cookies for ",
                                offsets.size(), " offsets"));
  }
  LinkCreateUprobeMultiAttr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = attach_type;
  attr.path = reinterpret_cast<uintptr_t>(path.c_str());
  attr.offsets = reinterpret_cast<uintptr_t>(offsets.data());
  attr.cookies = cookies.empty() ? 0 : reinterpret_cast<uintptr_t>(cookies.data());
  attr.cnt = static_cast<uint32_t>(offsets.size());
  attr.pid = static_cast<uint32_t>(pid);
  int fd = static_cast<int>(::syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr)));
  if (fd < 0) {
    const int saved = errno;
    if (err != nullptr) *err = saved;
    return ErrnoError(StrCat("uprobe_multi link (attach type ", attach_type, ") on ", path), saved);
  }
  return ScopedFd(fd);
}

}  // namespace pprofd::bpf_support
