// Small file helpers; read whole (small) files such as /proc entries.
#pragma once

#include <string>

#include "base/status.h"

namespace pprofd {

StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace pprofd
