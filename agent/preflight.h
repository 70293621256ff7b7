// Start-up checks that turn the kernel's EPERM or a verifier dump into one line naming the fix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pprofd {

// The BTF file at `path` (the --btf flag) exists, is readable and looks like BTF: CO-RE
// relocations need the running kernel's BTF.
Status CheckKernelBtf(const std::string& path);
// The same check over the first bytes read from `path` (no I/O, for tests): raw BTF (magic
// 0xeB9F, either byte order) or an ELF file (a vmlinux carrying a .BTF section).
Status CheckBtfHeader(std::string_view path, std::string_view first_bytes);

// The effective capabilities the sampler needs: CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN stands in
// for either, as in the kernel's bpf_capable()/perfmon_capable()). Reading another user's
// /proc/PID files is checked when the target is opened.
Status CheckCapabilities();
// The same check over an effective set, bit N = capability N (no syscalls, for tests).
Status CheckCapabilitySet(uint64_t effective);

}  // namespace pprofd
