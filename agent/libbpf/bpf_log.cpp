#include "agent/libbpf/bpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include "base/log.h"

namespace pprofd::libbpf {
namespace {

int PrintLibbpf(enum libbpf_print_level level, const char* format, va_list args) {
  char buffer[4096];
  int n = std::vsnprintf(buffer, sizeof(buffer), format, args);
  std::string line(buffer, n < 0 ? 0 : std::min<size_t>(n, sizeof(buffer) - 1));
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.empty()) return 0;
  switch (level) {
    case LIBBPF_WARN:
      LogWarning("libbpf: " + line);
      break;
    case LIBBPF_INFO:
      LogDebug("libbpf: " + line);
      break;
    case LIBBPF_DEBUG:
      break;  // too chatty: every relocation
  }
  return n;
}

}  // namespace

void RouteLibbpfLogsToLogger() { libbpf_set_print(PrintLibbpf); }

}  // namespace pprofd::libbpf
