// Start-up checks that turn the kernel's EPERM or a verifier dump into one line naming the fix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd {

// The BTF file at `path` (the --btf flag) exists, is readable and looks like BTF: CO-RE
// relocations need the running kernel's BTF.
Status CheckKernelBtf(const std::string& path);
// The same check over the first bytes read from `path` (no I/O, for tests): raw BTF (magic
// 0xeB9F, either byte order) or an ELF file (a vmlinux carrying a .BTF section).
Status CheckBtfHeader(std::string_view path, std::string_view first_bytes);

// Capabilities, decided by running pprofd as an unprivileged user against a root-owned target
// with each one dropped in turn (the README's Security section lists what fails without each):
//   required  CAP_BPF             load the BPF programs, create their maps
//             CAP_PERFMON         per-CPU perf events, tracing programs (tp_btf, uprobes)
//             CAP_SYS_PTRACE      /proc/PID/{maps,exe,root,mem} of another user's
//             process CAP_DAC_READ_SEARCH the target's binaries under private directories (through
//                                 /proc/PID/root) and /proc/PID/mem (mode 0600) for the vdso
//                                 (/mutex attaches by BTF id and needs no tracefs)
//   optional  CAP_SYSLOG          kernel symbol addresses in /proc/kallsyms when
//                                 kernel.kptr_restrict or kernel.perf_event_paranoid hide them
// CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (the kernel's bpf_capable() and
// perfmon_capable()), CAP_DAC_OVERRIDE for CAP_DAC_READ_SEARCH.

// The sysctls that decide whether /proc/kallsyms shows addresses to a process.
struct KallsymsSysctls {
  int kptr_restrict = 0;        // kernel.kptr_restrict
  int perf_event_paranoid = 2;  // kernel.perf_event_paranoid
};

// An error naming every missing required capability, why pprofd needs it and the fix, in one
// line; ok when none is missing. `effective` has bit N set for capability N (no syscalls, for
// tests).
Status CheckCapabilitySet(uint64_t effective);
// One line per missing optional capability that matters under `sysctls`, naming what degrades
// and the fix; empty when nothing degrades.
std::vector<std::string> OptionalCapabilityWarnings(uint64_t effective,
                                                    const KallsymsSysctls& sysctls);

// The checks above over this process's effective set and the running kernel's sysctls: logs each
// warning, returns the error for a missing required capability.
Status CheckCapabilities();
// This process's effective capability set (bit N = capability N).
StatusOr<uint64_t> EffectiveCapabilities();

}  // namespace pprofd
