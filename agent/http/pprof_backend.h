// What the HTTP layer needs from the profiler, so that agent/http knows nothing of BPF and its
// tests run without it. Every call returns at once; results arrive through the callback, which may
// be invoked from any thread (the server posts it back to its own io_context).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace pprofd::http {

struct CpuProfileRequest {
  int seconds = 30;
  int hz = 99;
};

// A finished profile: the gzipped protobuf body.
using ProfileCallback = std::function<void(StatusOr<std::string> gzipped_profile)>;
// For /debug/pprof/symbol: one name per address, empty when unknown.
using SymbolCallback = std::function<void(std::vector<std::string> names)>;

// Errors are classified so the HTTP layer can pick a status code.
// Message prefixes are not parsed; use these.
enum class BackendErrorKind { kUnavailable, kInternal };

class PprofBackend {
 public:
  virtual ~PprofBackend() = default;
  // Starts a CPU profile of `request.seconds`; `done` is called once, when it is ready or failed.
  virtual void CpuProfile(const CpuProfileRequest& request, ProfileCallback done) = 0;
  virtual void LookupSymbols(const std::vector<uint64_t>& addresses, SymbolCallback done) = 0;
  // argv of the target, NUL-joined as Go's /debug/pprof/cmdline (Go joins with NUL).
  virtual StatusOr<std::string> Cmdline() = 0;
  virtual int default_hz() const = 0;
  virtual int max_hz() const = 0;
  virtual int max_seconds() const = 0;
};

}  // namespace pprofd::http
