// Start-up checks that turn the kernel's EPERM or a verifier dump into one line naming the fix.
#pragma once

#include "base/status.h"

namespace pprofd {

// The kernel exposes BTF (CO-RE needs it).
Status CheckKernelBtf();
// The effective capabilities the sampler needs: CAP_BPF, CAP_PERFMON; CAP_SYS_PTRACE to read
// another user's /proc/PID files.
Status CheckCapabilities();

}  // namespace pprofd
