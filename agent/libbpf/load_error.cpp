#include "agent/libbpf/load_error.h"

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace pprofd::libbpf {

Status LoadError(std::string_view program, int err, std::string_view capabilities) {
  const std::string what = StrCat("load BPF program ", program, ": ", std::strerror(err));
  switch (err) {
    case EPERM:
      return Status::Error(StrCat(what, "; pprofd needs ", capabilities, " (or root)"));
    case EACCES:
      // The verifier answers EACCES both for a program it rejects and for one it would accept
      // from a process with the capabilities: name both, the log tells them apart.
      return Status::Error(
          StrCat(what, "; pprofd needs ", capabilities,
                 " (or root), else the verifier's log above says what it refused"));
    default:
      // EINVAL, E2BIG, ENOTSUPP, ENOENT...: a kernel feature or BTF type missing, or a program
      // the verifier rejects; libbpf logs which (bpf_log.h routes it to the same stream).
      return Status::Error(
          StrCat(what,
                 "; libbpf's log above says what failed (a kernel feature or BTF it lacks, or the "
                 "verifier)"));
  }
}

}  // namespace pprofd::libbpf
