// Routes libbpf's own output (the verifier's log among it) through the agent's logger, and keeps
// the reason of the last refusal for the load error that reports it.
#pragma once

#include <string>
#include <string_view>

namespace pprofd::bpf_support {

void RouteLibbpfLogsToLogger();

// The reason libbpf last gave on this thread (the verifier's last line for a refused program,
// else libbpf's first warning since the last call), and forgets it; empty when there was none. A
// load error appends it, so the one-line error names the reason while the whole log stays at debug
// level: a program the kernel refuses is often an expected fallback, not something to warn about.
std::string TakeLibbpfReason();

// " (REASON)" from TakeLibbpfReason, or "" when libbpf gave none.
std::string LibbpfReasonSuffix();

// The reason in a libbpf message: for a "-- BEGIN PROG LOAD LOG --" dump, its last line that is
// not a statistic; else the message itself. No I/O, for tests.
std::string LibbpfReasonOf(std::string_view message);

}  // namespace pprofd::bpf_support
