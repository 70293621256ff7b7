#include "agent/bpf_support/load_error.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "agent/bpf_support/bpf_log.h"
#include "base/log.h"

namespace pprofd::bpf_support {

Status LoadError(std::string_view program, int err, std::string_view capabilities) {
  // libbpf's whole log (the verifier's among it) goes to the debug level: a refused program is
  // often an expected fallback. The reason it gave (the verifier's last line, or its first
  // warning) goes into the one line instead.
  const std::string what =
      StrCat("load BPF program ", program, ": ", std::strerror(err), LibbpfReasonSuffix());
  switch (err) {
    case EPERM:
      if (what.find("RLIMIT_MEMLOCK") != std::string::npos) {
        return Status::Error(StrCat(
            what,
            "; kernels before 5.11 count BPF memory against RLIMIT_MEMLOCK: raise it (ulimit -l "
            "unlimited; LimitMEMLOCK=infinity in a systemd unit)"));
      }
      return Status::Error(StrCat(what, "; pprofd needs ", capabilities, " (or root)"));
    case EACCES:
      // The verifier answers EACCES both for a program it rejects and for one it would accept
      // from a process with the capabilities: name both.
      return Status::Error(StrCat(what, "; pprofd needs ", capabilities,
                                  " (or root), else the verifier refused it (its whole log at "
                                  "--log-level debug)"));
    default:
      // EINVAL, E2BIG, ENOTSUPP, ENOENT...: a kernel feature or BTF type missing, or a program
      // the verifier rejects.
      return Status::Error(StrCat(what,
                                  "; libbpf's log at --log-level debug says what failed (a kernel "
                                  "feature or BTF it lacks, or the verifier)"));
  }
}

}  // namespace pprofd::bpf_support
