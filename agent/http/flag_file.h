// Reading the small files command-line flags name (certificates, keys, password files), with
// errors that name the flag: "--tls-key /etc/x.key: No such file or directory".
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace pprofd::http {

// The whole file; refuses one above `max_bytes` (a flag pointing at the wrong file, or /dev/zero).
StatusOr<std::string> ReadFlagFile(std::string_view flag, const std::string& path,
                                   size_t max_bytes = 1 << 20);

}  // namespace pprofd::http
