#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace pprofd {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void SetMinLogLevel(LogLevel level) { min_level = level; }

void Log(LogLevel level, std::string_view message) {
  if (level < min_level.load()) return;
  // One fprintf per line so lines from several threads do not interleave.
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fprintf(stderr, "pprofd: %s: %.*s\n", LevelName(level), static_cast<int>(message.size()),
               message.data());
}

}  // namespace pprofd
