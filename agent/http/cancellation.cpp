#include "agent/http/cancellation.h"

#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace pprofd::http {

struct Cancellation::Registration::State {
  std::mutex mutex;
  std::optional<CancelReason> reason;  // set once, when fired
  uint64_t next_id = 1;
  std::map<uint64_t, Callback> callbacks;  // registered and not yet run
};

std::string_view CancelReasonLabel(CancelReason reason) {
  switch (reason) {
    case CancelReason::kClientClosed:
      return "client_closed";
    case CancelReason::kClientReset:
      break;
  }
  return "client_reset";
}

Cancellation::Registration::Registration(Registration&& other) noexcept
    : state_(std::move(other.state_)), id_(other.id_) {
  other.id_ = 0;
}

Cancellation::Registration& Cancellation::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    Reset();
    state_ = std::move(other.state_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void Cancellation::Registration::Reset() {
  if (!state_) return;
  Callback unregistered;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->callbacks.find(id_);
    if (it != state_->callbacks.end()) {
      unregistered = std::move(it->second);
      state_->callbacks.erase(it);
    }
  }
  // Destroyed outside the lock: what it captured may hold other registrations.
  unregistered = nullptr;
  state_.reset();
  id_ = 0;
}

Cancellation Cancellation::Make() {
  Cancellation cancellation;
  cancellation.state_ = std::make_shared<Registration::State>();
  return cancellation;
}

Cancellation::Registration Cancellation::OnCancel(Callback callback) const {
  Registration registration;
  if (!state_) return registration;
  std::lock_guard lock(state_->mutex);
  if (state_->reason) {
    callback(*state_->reason);
    return registration;
  }
  registration.state_ = state_;
  registration.id_ = state_->next_id++;
  state_->callbacks.emplace(registration.id_, std::move(callback));
  return registration;
}

void Cancellation::Cancel(CancelReason reason) const {
  if (!state_) return;
  std::map<uint64_t, Callback> fired;
  {
    // Held while the callbacks run, so that a Registration destroyed on another thread waits
    // for its callback to end (a window's callback posts to the io_context of its host).
    std::lock_guard lock(state_->mutex);
    if (state_->reason) return;
    state_->reason = reason;
    for (auto& [id, callback] : state_->callbacks) callback(reason);
    fired.swap(state_->callbacks);
  }
  // The callbacks are destroyed outside the lock (see Registration::Reset).
}

bool Cancellation::cancelled() const {
  if (!state_) return false;
  std::lock_guard lock(state_->mutex);
  return state_->reason.has_value();
}

}  // namespace pprofd::http
