// BPF links held by this test process, for tests that check attach and detach leave none behind.
#pragma once

namespace pprofd::testing {

// Counts this process's open BPF link fds (from /proc/self/fdinfo); aborts when it cannot read it.
int CountBpfLinkFds();

}  // namespace pprofd::testing
