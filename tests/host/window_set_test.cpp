// The request-window lifecycle on a real io_context, without BPF: windows close on their timers
// or early with the coverage comment, every answer is sent once, and what the kind releases runs
// after the window has left the set and before the answer.
#include "agent/host/window_set.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
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

  Fixture() {
    windows.emplace(
        io, WindowSet<int>::Hooks{
                [this](WindowSet<int>::Window& window, const WindowEnd& end) {
                  // Still a member while its profile is built.
                  CHECK(windows->Any([&](const auto& w) { return &w == &window; }));
                  finished.push_back({end.early_reason, end.CoverageComment(window.request.seconds),
                                      end.duration_ns, window.state});
                  return StatusOr<std::string>(StrCat("profile ", window.state));
                },
                [this] {
                  // The answer is not sent yet.
                  CHECK(answers.size() == finished.size() - 1);
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

}  // namespace
}  // namespace pprofd::host
