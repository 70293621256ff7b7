// The signal that a request was abandoned: its client went away before the response was sent.
// It is what Go keeps in a request's context: the session fires it, and whoever works on the
// request (the --max-concurrent slot, a profile's window) registers to stop at once. A copy is a
// handle to the same signal; a default-constructed Cancellation never fires, so code that is
// handed none (unit tests, internal requests) needs no special case.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace pprofd::http {

// Why a request was cancelled; the label of pprofd_http_requests_cancelled_total.
enum class CancelReason {
  kClientClosed,  // the client closed the connection (or its sending side) before the answer
  kClientReset,   // the connection failed: a reset, or another read error
};
std::string_view CancelReasonLabel(CancelReason reason);  // "client_closed", "client_reset"

class Cancellation {
 public:
  using Callback = std::function<void(CancelReason reason)>;

  // Unregisters its callback when destroyed: once the destructor returns the callback is not
  // running and will not run. Move-only.
  class Registration {
   public:
    Registration() = default;
    ~Registration() { Reset(); }
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    void Reset();

   private:
    friend class Cancellation;
    struct State;
    std::shared_ptr<State> state_;
    uint64_t id_ = 0;
  };

  // A signal that never fires.
  Cancellation() = default;
  // A signal that fires when Cancel() is called on it or on a copy.
  static Cancellation Make();

  // Thread-safe. Runs `callback` once, on the thread that calls Cancel(), or now when the
  // signal has already fired. Callbacks run under the signal's lock: they must be short (post
  // work elsewhere) and must not register or unregister on this signal.
  [[nodiscard]] Registration OnCancel(Callback callback) const;
  // Thread-safe. Fires the signal: runs every callback registered; later calls do nothing.
  void Cancel(CancelReason reason) const;
  bool cancelled() const;
  bool can_fire() const { return state_ != nullptr; }

 private:
  std::shared_ptr<Registration::State> state_;
};

}  // namespace pprofd::http
