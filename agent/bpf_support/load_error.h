// The one wording of "the kernel would not load a BPF program": one line that names the program,
// the kernel's error and what to do about it, the same for every sampler.
#pragma once

#include <string_view>

#include "base/status.h"

namespace pprofd::bpf_support {

// What a tracing program (perf event, tracepoint, iterator) needs to load.
inline constexpr std::string_view kTracingCapabilities = "CAP_BPF and CAP_PERFMON";
// What a program attached by uprobes needs (the uprobe perf events need CAP_SYS_ADMIN).
inline constexpr std::string_view kUprobeCapabilities =
    "CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN for uprobes";

// The error for `program` (e.g. "cpu_sampler") failing to load with `err` (a positive errno;
// libbpf returns it negated). `capabilities` are what pprofd needs for this program.
Status LoadError(std::string_view program, int err,
                 std::string_view capabilities = kTracingCapabilities);

}  // namespace pprofd::bpf_support
