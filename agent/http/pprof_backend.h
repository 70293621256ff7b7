// What the HTTP layer needs from the profiler, so that agent/http knows nothing of BPF and its
// tests run without it. Every call returns at once; results arrive through the callback, which may
// be invoked from any thread (the server posts it back to its own io_context).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "agent/http/cancellation.h"
#include "base/status.h"

namespace pprofd::http {

// One request for a profile, already validated against the backend's limits by the routes.
struct ProfileRequest {
  // The path it was asked on, after /debug/pprof/: "profile", "heap", "allocs", "threads",
  // "goroutine", "block", "mutex". The routes' table lists them; each kind says which it serves.
  std::string type = "profile";
  // The window: 0 for "now" (a thread snapshot) or "since tracking began" (heap); N for the next
  // N seconds.
  int seconds = 0;
  int hz = 0;  // CPU: the sampling rate asked for
  // CPU with --continuous: the last N seconds from the look-back history, at once (seconds is
  // then 0).
  int past_seconds = 0;
  int debug = 0;  // 0: gzipped pprof; 1 and 2: Go's text forms, where the type has them
  // Fires when the client goes away first: whoever holds the request stops, releases what it
  // holds and drops `done` uncalled (a window does so through WindowSet).
  Cancellation cancellation;
};

// Errors are classified so the HTTP layer can pick a status code.
// Message prefixes are not parsed; use these.
//   kUnavailable    -> 503 (e.g. the target exited, sampling cannot start right now)
//   kInternal       -> 500
//   kBadRequest     -> 400 (the request cannot be served as configured, e.g. heap tracking off)
//   kNotImplemented -> 501 (the target cannot be profiled this way, e.g. no allocator to probe)
enum class BackendErrorKind { kUnavailable, kInternal, kBadRequest, kNotImplemented };

// A finished profile: the gzipped protobuf body, or an error and its kind.
// Call it as done(std::move(profile)) on success, done(status) for an internal error, or
// done(status, BackendErrorKind::kUnavailable). The kind is ignored on success. It stays callable
// with one argument, so it converts to std::function<void(StatusOr<std::string>)>.
class ProfileCallback {
 public:
  using Function = std::function<void(StatusOr<std::string>, BackendErrorKind)>;

  ProfileCallback() = default;
  // Accepts f(StatusOr<std::string>, BackendErrorKind) or f(StatusOr<std::string>).
  template <typename F>
  requires(!std::is_same_v<F, ProfileCallback> &&
           (std::is_invocable_v<F&, StatusOr<std::string>, BackendErrorKind> ||
            std::is_invocable_v<F&, StatusOr<std::string>>))
      ProfileCallback(F fn) {  // NOLINT: implicit by design
    if constexpr (std::is_invocable_v<F&, StatusOr<std::string>, BackendErrorKind>) {
      fn_ = std::move(fn);
    } else {
      fn_ = [fn = std::move(fn)](StatusOr<std::string> result, BackendErrorKind) mutable {
        fn(std::move(result));
      };
    }
  }

  void operator()(StatusOr<std::string> gzipped_profile,
                  BackendErrorKind kind = BackendErrorKind::kInternal) const {
    fn_(std::move(gzipped_profile), kind);
  }
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  Function fn_;
};

// For /debug/pprof/symbol: one name per address, empty when unknown.
using SymbolCallback = std::function<void(std::vector<std::string> names)>;

class PprofBackend {
 public:
  virtual ~PprofBackend() = default;
  // Starts the profile `request` asks for; `done` is called once, when it is ready or failed
  // (pprof, or text when request.debug > 0).
  virtual void Profile(const ProfileRequest& request, ProfileCallback done) = 0;
  virtual void LookupSymbols(const std::vector<uint64_t>& addresses, SymbolCallback done) = 0;
  // argv of the target, NUL-joined as Go's /debug/pprof/cmdline (Go joins with NUL).
  virtual StatusOr<std::string> Cmdline() = 0;
  virtual int default_hz() const = 0;
  virtual int max_hz() const = 0;
  virtual int max_seconds() const = 0;
  // Seconds of CPU history kept for ?past=N (--history); 0 without --continuous.
  virtual int history_seconds() const { return 0; }
};

}  // namespace pprofd::http
