#include "agent/libbpf/link.h"

#include <cerrno>

namespace pprofd::libbpf {

StatusOr<Link> TakeLink(bpf_link* link, std::string_view what) {
  if (link == nullptr) return ErrnoError(what, errno);
  return Link(link);
}

}  // namespace pprofd::libbpf
