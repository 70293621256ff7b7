#include "agent/bpf_support/link.h"

#include <cerrno>

namespace pprofd::bpf_support {

StatusOr<Link> TakeLink(bpf_link* link, std::string_view what) {
  if (link == nullptr) return ErrnoError(what, errno);
  return Link(link);
}

}  // namespace pprofd::bpf_support
