#include "base/status.h"

#include <cstring>

namespace pprofd {

Status ErrnoError(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  return Status::Error(std::move(message));
}

}  // namespace pprofd
