// The request-window lifecycle on a real io_context, without BPF: windows close on their timers
// or early with the coverage comment, every answer is sent once, and what the kind releases runs
// after the window has left the set and before the answer; a window whose client left is
// cancelled from another thread: no profile, no answer, and what it held released.
#include "agent/host/window_set.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"

namespace pprofd::host {
namespace {

using namespace std::chrono_literals;

struct Closing {
  std::string early_reason;
  std::string coverage;
  int64_t duration_ns = 0;
  int state = 0;
};

struct Fixture {
  boost::asio::io_context io;
  std::vector<Closing> finished;
  std::vector<size_t> open_after_close;  // the set's size each time after_close ran
  std::vector<std::string> answers;
  std::optional<WindowSet<int>> windows;
  bool finishing = false;

  Fixture() {
    windows.emplace(
        io, WindowSet<int>::Hooks{
                [this](WindowSet<int>::Window& window, const WindowEnd& end) {
                  // Still a member while its profile is built.
                  CHECK(windows->Any([&](const auto& w) { return &w == &window; }));
                  finished.push_back({end.early_reason, end.CoverageComment(window.request.seconds),
                                      end.duration_ns, window.state});
                  finishing = true;
                  return StatusOr<std::string>(StrCat("profile ", window.state));
                },
                [this] {
                  // The answer is not sent yet (a cancelled window has none).
                  if (finishing) CHECK(answers.size() == finished.size() - 1);
                  finishing = false;
                  open_after_close.push_back(windows->size());
                }});
  }

  http::ProfileCallback Answer() {
    return [this](StatusOr<std::string> profile) {
      answers.push_back(profile.ok() ? *profile : "error " + profile.status().message());
    };
  }
};

http::ProfileRequest Seconds(int seconds) {
  http::ProfileRequest request;
  request.seconds = seconds;
  return request;
}

TEST_CASE_METHOD(Fixture, "A window closes on its timer and is answered once", "[window_set]") {
  windows->Open(Seconds(1), Answer(), 7);
  CHECK(windows->size() == 1);
  io.run_for(3s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].early_reason.empty());
  CHECK(finished[0].coverage.empty());
  CHECK(finished[0].duration_ns >= 1000000000);
  CHECK(finished[0].duration_ns < 2000000000);
  CHECK(finished[0].state == 7);
  CHECK(open_after_close == std::vector<size_t>{0});
  CHECK(answers == std::vector<std::string>{"profile 7"});
  CHECK(windows->empty());
}

TEST_CASE_METHOD(Fixture, "FinishAll closes every window early, saying how much it covers",
                 "[window_set]") {
  windows->Open(Seconds(30), Answer(), 1);
  windows->Open(Seconds(20), Answer(), 2);
  io.run_for(200ms);
  CHECK(finished.empty());
  windows->FinishAll("the target process 42 exited during the profile");
  REQUIRE(finished.size() == 2);
  CHECK(finished[0].early_reason == "the target process 42 exited during the profile");
  CHECK_THAT(finished[0].coverage,
             Catch::Matches("the target process 42 exited during the profile: this profile "
                            "covers (1|2)[0-9]{2} ms of the 30 s asked for"));
  CHECK_THAT(finished[1].coverage, Catch::EndsWith(" ms of the 20 s asked for"));
  // Each closed window left the set before the kind released what it held.
  CHECK(open_after_close == std::vector<size_t>{1, 0});
  CHECK(answers == std::vector<std::string>{"profile 1", "profile 2"});
  // The cancelled timers' handlers run and close nothing twice.
  io.run_for(100ms);
  CHECK(finished.size() == 2);
  CHECK(answers.size() == 2);
}

TEST_CASE_METHOD(Fixture, "Overlapping windows close independently", "[window_set]") {
  windows->Open(Seconds(2), Answer(), 1);
  windows->Open(Seconds(1), Answer(), 2);
  io.run_for(1500ms);
  REQUIRE(answers == std::vector<std::string>{"profile 2"});
  CHECK(windows->size() == 1);
  CHECK(windows->Any([](const auto& window) { return window.state == 1; }));
  io.run_for(2s);
  CHECK(answers == std::vector<std::string>{"profile 2", "profile 1"});
}

http::ProfileRequest Cancellable(int seconds, const http::Cancellation& cancellation) {
  http::ProfileRequest request = Seconds(seconds);
  request.cancellation = cancellation;
  return request;
}

TEST_CASE_METHOD(Fixture, "A window whose client left is removed without a profile or an answer",
                 "[window_set][cancellation]") {
  const http::Cancellation gone = http::Cancellation::Make();
  const http::Cancellation staying = http::Cancellation::Make();
  // What the request holds (the HTTP session, the --max-concurrent slot) lives in its callback.
  auto held = std::make_shared<int>(0);
  std::weak_ptr<int> held_by_request = held;
  windows->Open(
      Cancellable(600, gone),
      [this, held = std::move(held)](StatusOr<std::string>) { answers.push_back("x"); }, 1);
  windows->Open(Cancellable(1, staying), Answer(), 2);
  io.run_for(100ms);
  // Fired on another thread, as the HTTP session does.
  std::thread([&] { gone.Cancel(http::CancelReason::kClientClosed); }).join();
  io.run_for(100ms);
  CHECK(windows->size() == 1);
  CHECK(windows->cancelled() == 1);
  CHECK(finished.empty());                            // no profile was built
  CHECK(answers.empty());                             // and nothing answered
  CHECK(open_after_close == std::vector<size_t>{1});  // the kind released what it no longer needs
  CHECK(held_by_request.expired());
  // The other window is untouched and closes on its timer.
  io.run_for(1500ms);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].state == 2);
  CHECK(answers == std::vector<std::string>{"profile 2"});
  CHECK(open_after_close == std::vector<size_t>{1, 0});
}

TEST_CASE_METHOD(Fixture, "A cancellation after the window closed, or before it opened",
                 "[window_set][cancellation]") {
  const http::Cancellation late = http::Cancellation::Make();
  windows->Open(Cancellable(1, late), Answer(), 1);
  io.run_for(1500ms);
  REQUIRE(answers == std::vector<std::string>{"profile 1"});
  late.Cancel(http::CancelReason::kClientReset);  // nothing registered any more
  io.restart();                                   // it ran out of work
  io.run_for(50ms);
  CHECK(windows->cancelled() == 0);

  // Already fired when the window opens (the client left while the request was queued): the
  // window is cancelled as soon as the host's thread runs.
  const http::Cancellation early = http::Cancellation::Make();
  early.Cancel(http::CancelReason::kClientClosed);
  windows->Open(Cancellable(30, early), Answer(), 2);
  io.restart();  // it ran out of work
  io.run_for(50ms);
  CHECK(windows->empty());
  CHECK(windows->cancelled() == 1);
  CHECK(answers.size() == 1);

  // FinishAll after a cancellation answers only the windows still open.
  const http::Cancellation third = http::Cancellation::Make();
  windows->Open(Cancellable(30, third), Answer(), 3);
  windows->Open(Seconds(30), Answer(), 4);
  third.Cancel(http::CancelReason::kClientClosed);
  io.restart();  // it ran out of work
  io.run_for(50ms);
  windows->FinishAll("pprofd is shutting down");
  CHECK(answers == std::vector<std::string>{"profile 1", "profile 4"});
}

}  // namespace
}  // namespace pprofd::host
