#include "agent/http/flag_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/scoped_fd.h"

namespace pprofd::http {

StatusOr<std::string> ReadFlagFile(std::string_view flag, const std::string& path,
                                   size_t max_bytes) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return Status::Error(StrCat(flag, " ", path, ": ", std::strerror(err)));
  }
  std::string content;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return Status::Error(StrCat(flag, " ", path, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      return Status::Error(
          StrCat(flag, " ", path, ": larger than ", max_bytes, " bytes; is it the right file?"));
    }
  }
  return content;
}

}  // namespace pprofd::http
