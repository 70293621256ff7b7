// The comments of a look-back profile: the span, the rates, and why it covers less than asked.
#include "agent/kinds/cpu/lookback_comments.h"

#include <catch2/catch.hpp>

#include "base/clock.h"

namespace pprofd::kinds::cpu {
namespace {

constexpr int64_t kS = 1000000000;
constexpr int64_t kNoon = int64_t{1796817600} * kS;  // 2026-12-09T12:00:00Z

LookbackFacts Facts() {
  LookbackFacts facts;
  facts.target = "PID 42 (/usr/bin/app)";
  facts.asked_seconds = 60;
  facts.continuous_hz = 19;
  facts.history_seconds = 600;
  facts.max_bytes = 64 << 20;
  facts.cpu_count = 2;
  facts.begin_wall_ns = kNoon - 60 * kS;
  facts.end_wall_ns = kNoon - kS / 2;
  facts.history_start_wall_ns = kNoon - 3600 * kS;
  facts.agent_start_wall_ns = kNoon - 3600 * kS;
  facts.seconds_at_hz = {{19, 60}};
  return facts;
}

TEST_CASE("A full look-back names its span and its one rate, and no gap", "[lookback]") {
  std::vector<std::string> comments = LookbackComments(Facts());
  REQUIRE(comments.size() == 2);
  CHECK(comments[0] ==
        "pprofd CPU profile of PID 42 (/usr/bin/app), the last 60 s from the look-back history "
        "(--continuous 19, --history 600s): 2026-12-09T11:59:00Z to 2026-12-09T11:59:59Z "
        "(59.5 s), on the CPU clock of 2 CPUs");
  CHECK(comments[1] == "sampled at 19 Hz");
}

TEST_CASE("Mixed rates are listed with what they mean for the sample types", "[lookback]") {
  LookbackFacts facts = Facts();
  facts.seconds_at_hz = {{19, 50}, {99, 10}};
  std::vector<std::string> comments = LookbackComments(facts);
  CHECK_THAT(comments[1], Catch::StartsWith("sampled at 19 Hz for 50 s, 99 Hz for 10 s"));
  CHECK_THAT(comments[1], Catch::Contains("cpu/nanoseconds weighs each sample"));
}

TEST_CASE("A look-back past the history's start says when and why it starts", "[lookback]") {
  LookbackFacts facts = Facts();
  facts.begin_wall_ns = kNoon - 20 * kS;
  facts.end_wall_ns = kNoon;
  facts.history_start_wall_ns = facts.begin_wall_ns;
  facts.agent_start_wall_ns = facts.begin_wall_ns - kS / 2;
  facts.begins_at_history_start = true;
  std::vector<std::string> comments = LookbackComments(facts);
  REQUIRE(comments.size() == 3);
  CHECK(comments[2] ==
        "covers 20.0 s of the 60 s asked for: the history begins at 2026-12-09T11:59:40Z, when "
        "pprofd attached to PID 42 (/usr/bin/app)");

  // A followed target's new process, long after pprofd started.
  facts.followed = "unit app.service";
  facts.agent_start_wall_ns = kNoon - 3600 * kS;
  comments = LookbackComments(facts);
  CHECK_THAT(comments[2],
             Catch::EndsWith("(pprofd has run since 2026-12-09T11:00:00Z and follows unit "
                             "app.service: the samples of the target's earlier process were "
                             "dropped when it exited)"));
}

TEST_CASE("A look-back cut by the byte cap says so, and counts the overflow", "[lookback]") {
  LookbackFacts facts = Facts();
  facts.begin_wall_ns = kNoon - 30 * kS;
  facts.end_wall_ns = kNoon;
  facts.evicted_seconds = 12;
  facts.overflow_samples = 5;
  facts.lost_samples = 2;
  std::vector<std::string> comments = LookbackComments(facts);
  REQUIRE(comments.size() == 5);
  CHECK(comments[2] ==
        "covers 30.0 s of the 60 s asked for: older seconds were dropped to keep the history "
        "under --history-bytes 67108864 (12 seconds dropped early since the start)");
  CHECK(comments[3] == "lost samples (ring buffer full): 2");
  CHECK_THAT(comments[4], Catch::StartsWith("5 samples arrived while the history was at its "
                                            "byte cap"));
}

TEST_CASE("pprofd's own start time is read from /proc", "[lookback]") {
  const int64_t started = AgentStartWallNs();
  const int64_t now = NowNs(CLOCK_REALTIME);
  CHECK(started > 0);
  CHECK(started <= now + kS / 50);
  // This test binary started moments ago.
  CHECK(now - started < 600 * kS);
}

}  // namespace
}  // namespace pprofd::kinds::cpu
