#include "agent/bpf_support/bpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "base/log.h"

namespace pprofd::bpf_support {
namespace {

// libbpf reports on the thread that loads: the reason belongs to that thread's next error.
thread_local std::string last_reason;
// The verifier's reason outranks libbpf's summaries that follow it ("failed to load object").
thread_local bool last_reason_is_verifiers = false;

constexpr std::string_view kLogBegin = "-- BEGIN PROG LOAD LOG --";
constexpr std::string_view kLogEnd = "-- END PROG LOAD LOG --";

bool IsStatistic(std::string_view line) {
  return line.starts_with("processed ") || line.starts_with("verification time") ||
         line.starts_with("stack depth") || line.starts_with("max_states_per_insn");
}

// The whole message, however long: the verifier's log runs to many KiB and ends in its reason.
std::string Format(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::vector<char> buffer(static_cast<size_t>(n) + 1);
  std::vsnprintf(buffer.data(), buffer.size(), format, args);
  return std::string(buffer.data(), static_cast<size_t>(n));
}

int PrintLibbpf(enum libbpf_print_level level, const char* format, va_list args) {
  std::string message = Format(format, args);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (message.empty()) return 0;
  switch (level) {
    case LIBBPF_WARN:
      // At debug level: the caller either falls back (an info line) or fails with an error that
      // carries this reason (TakeLibbpfReason).
      if (message.find(kLogBegin) != std::string::npos) {
        last_reason = LibbpfReasonOf(message);
        last_reason_is_verifiers = true;
      } else if (last_reason.empty()) {
        // The first warning of a failure is its cause ("map 'x': failed to create map: ..."); the
        // ones after it summarize ("failed to load BPF skeleton 'x': -22").
        last_reason = message;
      }
      LogDebug("libbpf: " + message);
      break;
    case LIBBPF_INFO:
      LogDebug("libbpf: " + message);
      break;
    case LIBBPF_DEBUG:
      break;  // too chatty: every relocation
  }
  return static_cast<int>(message.size());
}

}  // namespace

std::string LibbpfReasonOf(std::string_view message) {
  size_t begin = message.find(kLogBegin);
  if (begin == std::string_view::npos) return std::string(message);
  std::string_view log = message.substr(begin + kLogBegin.size());
  if (size_t end = log.find(kLogEnd); end != std::string_view::npos) log = log.substr(0, end);
  std::string_view reason;
  while (!log.empty()) {
    size_t eol = log.find('\n');
    std::string_view line = log.substr(0, eol);
    if (!line.empty() && !IsStatistic(line)) reason = line;
    if (eol == std::string_view::npos) break;
    log.remove_prefix(eol + 1);
  }
  return std::string(reason);
}

std::string TakeLibbpfReason() {
  std::string reason;
  reason.swap(last_reason);
  last_reason_is_verifiers = false;
  return reason;
}

std::string LibbpfReasonSuffix() {
  std::string reason = TakeLibbpfReason();
  return reason.empty() ? reason : " (" + reason + ")";
}

void RouteLibbpfLogsToLogger() { libbpf_set_print(PrintLibbpf); }

}  // namespace pprofd::bpf_support
