#include "agent/target/thread_syscall.h"

#include <sys/syscall.h>

#include <charconv>
#include <string>

#include "base/file_util.h"
#include "base/log.h"

namespace pprofd::target {
namespace {

// include/uapi/linux/futex.h
constexpr uint64_t kFutexWait = 0;
constexpr uint64_t kFutexLockPi = 6;
constexpr uint64_t kFutexWaitBitset = 9;
constexpr uint64_t kFutexWaitRequeuePi = 11;
constexpr uint64_t kFutexLockPi2 = 13;
constexpr uint64_t kFutexPrivateFlag = 128;
constexpr uint64_t kFutexClockRealtime = 256;

std::string_view NextField(std::string_view& text) {
  const size_t begin = text.find_first_not_of(" \n");
  if (begin == std::string_view::npos) {
    text = {};
    return {};
  }
  text.remove_prefix(begin);
  const size_t end = std::min(text.find_first_of(" \n"), text.size());
  std::string_view field = text.substr(0, end);
  text.remove_prefix(end);
  return field;
}

std::optional<uint64_t> ParseHex(std::string_view field) {
  if (field.substr(0, 2) != "0x") return std::nullopt;
  field.remove_prefix(2);
  uint64_t value = 0;
  auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value, 16);
  if (error != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ThreadSyscall> ParseThreadSyscall(std::string_view text) {
  std::string_view number_field = NextField(text);
  long number = 0;
  auto [end, error] =
      std::from_chars(number_field.data(), number_field.data() + number_field.size(), number);
  if (number_field.empty() || error != std::errc() ||
      end != number_field.data() + number_field.size()) {
    return std::nullopt;  // "running", or not what the kernel writes
  }
  ThreadSyscall call;
  call.number = number;
  if (number < 0) return call;  // "-1 sp pc": blocked, but not in a system call
  for (uint64_t& arg : call.args) {
    auto value = ParseHex(NextField(text));
    if (!value) return std::nullopt;
    arg = *value;
  }
  return call;
}

std::optional<ThreadSyscall> ReadThreadSyscall(pid_t pid, pid_t tid) {
  auto text = ReadFileToString(StrCat("/proc/", pid, "/task/", tid, "/syscall"));
  if (!text.ok()) return std::nullopt;
  return ParseThreadSyscall(*text);
}

bool IsFutexWait(const ThreadSyscall& call) {
  if (call.number == SYS_futex_waitv) return true;
  if (call.number != SYS_futex) return false;
  switch (call.args[1] & ~(kFutexPrivateFlag | kFutexClockRealtime)) {
    case kFutexWait:
    case kFutexWaitBitset:
    case kFutexLockPi:
    case kFutexLockPi2:
    case kFutexWaitRequeuePi:
      return true;
    default:
      return false;
  }
}

}  // namespace pprofd::target
