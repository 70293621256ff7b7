// Attaches a BPF program to many offsets of one file with a single uprobe_multi link, through the
// bpf(2) syscall directly: libbpf 1.1 knows neither uprobe_multi links nor session uprobes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd::bpf_support {

// enum bpf_attach_type values of the kernel (absent from the installed uapi headers).
inline constexpr uint32_t kAttachUprobeMulti = 48;    // BPF_TRACE_UPROBE_MULTI, kernel >= 6.6
inline constexpr uint32_t kAttachUprobeSession = 57;  // BPF_TRACE_UPROBE_SESSION, kernel >= 6.12

// Creates the link: one uprobe at each file offset of `path`, `cookies[i]` (if not empty) given to
// the program at offsets[i], firing only in process `pid` (0: every process). The program must
// have been loaded with `attach_type` as its expected attach type. Closing the fd detaches. On
// failure `*err` (if given) receives the errno, so callers can tell "unsupported" from the rest.
StatusOr<ScopedFd> AttachUprobeMulti(int prog_fd, uint32_t attach_type, const std::string& path,
                                     std::span<const uint64_t> offsets,
                                     std::span<const uint64_t> cookies, pid_t pid,
                                     int* err = nullptr);

}  // namespace pprofd::bpf_support
