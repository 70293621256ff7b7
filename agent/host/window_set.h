// The request-window lifecycle every windowed profile shares (CPU, heap deltas, block, mutex):
// a window opens with its request, closes on its timer after request.seconds, or early (the
// target exited, pprofd stops) with a comment saying how much of it the profile covers, or is
// cancelled when its client goes away (no profile is built, nothing is answered). The kind
// supplies what is specific: the state it keeps per window, how a closed window becomes a
// profile, and what to release when windows close. Everything runs on the host's thread.
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "agent/http/pprof_backend.h"
#include "base/clock.h"
#include "base/status.h"

namespace pprofd::host {

// How a window ended.
struct WindowEnd {
  int64_t end_mono_ns = 0;
  int64_t duration_ns = 0;
  std::string early_reason;  // empty: it ran the whole time asked for

  // "<reason>: this profile covers N ms of the S s asked for" when it ended early; else empty.
  std::string CoverageComment(int seconds_asked) const;
};

template <typename State>
class WindowSet {
 public:
  struct Window {
    Window(boost::asio::io_context& io, State initial) : state(std::move(initial)), timer(io) {}
    http::ProfileRequest request;
    int64_t begin_mono_ns = 0;
    int64_t begin_wall_ns = 0;
    State state;
    http::ProfileCallback done;
    boost::asio::steady_timer timer;
    // Cancels the window when request.cancellation fires; unregisters when the window goes.
    http::Cancellation::Registration on_cancel;
  };

  struct Hooks {
    // Builds the closing window's profile. The window is still in the set, so a drain run here
    // still feeds it.
    std::function<StatusOr<std::string>(Window& window, const WindowEnd& end)> finish;
    // Runs once the window has left the set and before its answer is sent, or once a cancelled
    // window has left it: release what no open window needs any more (so the target runs at
    // full speed when the client has its profile, or has gone).
    std::function<void()> after_close;
  };

  WindowSet(boost::asio::io_context& io, Hooks hooks) : io_(io), hooks_(std::move(hooks)) {}
  ~WindowSet() {
    for (const auto& window : windows_) window->timer.cancel();
  }
  WindowSet(const WindowSet&) = delete;
  WindowSet& operator=(const WindowSet&) = delete;

  // Opens a window of request.seconds from now; `done` gets its profile when it closes, unless
  // request.cancellation fires first: then the window is cancelled (see Cancel).
  Window& Open(const http::ProfileRequest& request, http::ProfileCallback done, State state = {}) {
    auto window = std::make_shared<Window>(io_, std::move(state));
    window->request = request;
    window->begin_mono_ns = NowNs(CLOCK_MONOTONIC);
    window->begin_wall_ns = NowNs(CLOCK_REALTIME);
    window->done = std::move(done);
    windows_.push_back(window);
    window->timer.expires_after(std::chrono::seconds(request.seconds));
    window->timer.async_wait(
        [this, weak = std::weak_ptr<Window>(window)](const boost::system::error_code& ec) {
          if (ec) return;
          if (auto open = weak.lock()) Finish(open, "");
        });
    // The signal fires on an HTTP thread; the window belongs to this one. The registration is
    // dropped with the window, and its destruction waits for a callback in progress, so `this`
    // and io_ are alive while it runs; the posted part finds the window gone if it closed since.
    window->on_cancel = request.cancellation.OnCancel(
        [this, weak = std::weak_ptr<Window>(window)](http::CancelReason) {
          boost::asio::post(io_, [this, weak] {
            if (auto open = weak.lock()) Cancel(*open);
          });
        });
    return *window;
  }

  // Removes `window` without building its profile: its client has gone. after_close runs (so
  // what no other window needs is released, e.g. the BPF programs detach), and its `done` is
  // dropped uncalled, releasing what the request held. Does nothing for a window already closed.
  void Cancel(Window& window) {
    auto it = std::find_if(windows_.begin(), windows_.end(),
                           [&window](const auto& open) { return open.get() == &window; });
    if (it == windows_.end()) return;
    const std::shared_ptr<Window> cancelled = *it;
    cancelled->timer.cancel();
    windows_.erase(it);
    ++cancelled_;
    if (hooks_.after_close) hooks_.after_close();
    http::ProfileCallback dropped = std::move(cancelled->done);
  }

  // Windows cancelled since the set was made.
  uint64_t cancelled() const { return cancelled_; }

  // Closes every open window now, each profile saying `reason`.
  void FinishAll(const std::string& reason) {
    auto windows = windows_;
    for (const auto& window : windows) Finish(window, reason);
  }

  bool empty() const { return windows_.empty(); }
  size_t size() const { return windows_.size(); }
  template <typename Predicate>
  bool Any(Predicate predicate) const {
    for (const auto& window : windows_) {
      if (predicate(*window)) return true;
    }
    return false;
  }
  template <typename Function>
  void ForEach(Function function) {
    for (const auto& window : windows_) function(*window);
  }

 private:
  void Finish(const std::shared_ptr<Window>& window, const std::string& early_reason) {
    auto it = std::find(windows_.begin(), windows_.end(), window);
    if (it == windows_.end()) return;
    window->timer.cancel();
    WindowEnd end;
    end.end_mono_ns = NowNs(CLOCK_MONOTONIC);
    end.duration_ns = end.end_mono_ns - window->begin_mono_ns;
    end.early_reason = early_reason;
    StatusOr<std::string> profile = hooks_.finish(*window, end);
    windows_.remove(window);
    window->on_cancel.Reset();
    if (hooks_.after_close) hooks_.after_close();
    // Moved out: nothing left in the set may keep the HTTP session (captured in `done`) alive.
    http::ProfileCallback done = std::move(window->done);
    done(std::move(profile));
  }

  boost::asio::io_context& io_;
  Hooks hooks_;
  std::list<std::shared_ptr<Window>> windows_;
  uint64_t cancelled_ = 0;
};

}  // namespace pprofd::host
