// The CPU kind with a scripted sample source instead of BPF, on a real (sleeping) target: the
// sampler runs at the highest rate the open windows asked for, goes back down when the fastest
// closes, stops when the last closes, and each profile states the rate it was sampled at.
#include "agent/kinds/cpu/cpu_kind.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "tests/support/go_tool.h"
#include "tests/support/sleeping_child.h"

namespace pprofd::kinds::cpu {
namespace {

using namespace std::chrono_literals;

// Records what the kind asks of it; produces no samples.
class ScriptedSource : public CpuSampleSource {
 public:
  Status Start(int hz) override {
    starts.push_back(hz);
    hz_ = hz;
    return Status::Ok();
  }
  void Stop() override {
    if (hz_ != 0) ++stops;
    hz_ = 0;
  }
  bool running() const override { return hz_ != 0; }
  int hz() const override { return hz_; }
  int cpu_count() const override { return 2; }
  void Drain(const std::function<void(const sampling::RawCpuSample&)>&) override {}
  uint64_t LostSamples() const override { return 0; }

  std::vector<int> starts;
  int stops = 0;

 private:
  int hz_ = 0;
};

TEST_CASE("Overlapping windows sample at the highest rate asked", "[cpu_kind]") {
  testing::SleepingChild child;
  auto target = target::TargetProcess::Open(child.pid());
  REQUIRE(target.ok());
  host::TargetContext context(std::move(*target), nullptr);
  auto owned = std::make_unique<ScriptedSource>();
  ScriptedSource* source = owned.get();
  CpuKind kind(&context, std::move(owned));

  std::vector<std::string> profiles;
  auto keep = [&](StatusOr<std::string> profile) {
    REQUIRE(profile.ok());
    profiles.push_back(std::move(*profile));
  };
  http::ProfileRequest slow;
  slow.seconds = 2;
  slow.hz = 50;
  http::ProfileRequest fast;
  fast.seconds = 1;
  fast.hz = 200;
  kind.Profile(slow, keep);
  kind.Profile(fast, keep);
  CHECK(source->starts == std::vector<int>{50, 200});
  context.io().run_for(1500ms);
  // The fast window closed: back to the rate the slow one asked for.
  REQUIRE(profiles.size() == 1);
  CHECK(source->starts == std::vector<int>{50, 200, 50});
  CHECK(kind.Attached());
  context.io().run_for(1500ms);
  REQUIRE(profiles.size() == 2);
  CHECK_FALSE(kind.Attached());
  CHECK(source->stops == 1);

  // Each profile states the highest rate its window saw, as the real client reads it.
  testing::GoTool go;
  REQUIRE(go.ok());
  testing::CommandResult fast_raw = go.Pprof("-raw", go.WriteFile("fast.pb.gz", profiles[0]));
  CHECK_THAT(fast_raw.output, Catch::Contains("sampled at 200 Hz"));
  CHECK_THAT(fast_raw.output, Catch::Contains("Period: 5000000"));
  testing::CommandResult slow_raw = go.Pprof("-raw", go.WriteFile("slow.pb.gz", profiles[1]));
  CHECK_THAT(slow_raw.output, Catch::Contains("sampled at 200 Hz"));
}

TEST_CASE("FinishAll answers open windows and stops the source for good", "[cpu_kind]") {
  testing::SleepingChild child;
  auto target = target::TargetProcess::Open(child.pid());
  REQUIRE(target.ok());
  host::TargetContext context(std::move(*target), nullptr);
  auto owned = std::make_unique<ScriptedSource>();
  ScriptedSource* source = owned.get();
  CpuKind kind(&context, std::move(owned));
  std::vector<std::string> profiles;
  http::ProfileRequest request;
  request.seconds = 30;
  request.hz = 99;
  kind.Profile(request, [&](StatusOr<std::string> profile) {
    REQUIRE(profile.ok());
    profiles.push_back(std::move(*profile));
  });
  kind.Profile(request, [&](StatusOr<std::string> profile) {
    REQUIRE(profile.ok());
    profiles.push_back(std::move(*profile));
  });
  kind.FinishAll("pprofd is shutting down");
  CHECK(profiles.size() == 2);
  CHECK_FALSE(source->running());
  // The second window found the source running at its rate; closing the first did not restart
  // it for the second.
  CHECK(source->starts == std::vector<int>{99});
  std::string refused;
  kind.Profile(request,
               [&](StatusOr<std::string> profile) { refused = profile.status().message(); });
  CHECK(refused == "pprofd is shutting down");
}

TEST_CASE(
    "Continuous sampling (--continuous) starts at once, runs faster while a window asks, never "
    "stops",
    "[cpu_kind]") {
  testing::SleepingChild child;
  auto target = target::TargetProcess::Open(child.pid());
  REQUIRE(target.ok());
  host::TargetContext context(std::move(*target), nullptr);
  auto owned = std::make_unique<ScriptedSource>();
  ScriptedSource* source = owned.get();
  ContinuousOptions continuous;
  continuous.hz = 19;
  continuous.history.seconds = 60;
  CpuKind kind(&context, std::move(owned), continuous);
  CHECK_FALSE(kind.Attached());
  REQUIRE(kind.StartContinuous().ok());
  CHECK(source->starts == std::vector<int>{19});
  CHECK(kind.Attached());
  REQUIRE(kind.history() != nullptr);
  CHECK(kind.history()->started());

  std::vector<std::string> profiles;
  auto keep = [&](StatusOr<std::string> profile) {
    REQUIRE(profile.ok());
    profiles.push_back(std::move(*profile));
  };
  // A window asking more runs the sampler faster while it is open, then back to 19 Hz.
  http::ProfileRequest fast;
  fast.seconds = 1;
  fast.hz = 99;
  kind.Profile(fast, keep);
  CHECK(source->starts == std::vector<int>{19, 99});
  context.io().run_for(1300ms);
  REQUIRE(profiles.size() == 1);
  CHECK(source->starts == std::vector<int>{19, 99, 19});
  CHECK(kind.Attached());
  CHECK(source->stops == 0);
  // A window asking less gets the always-on rate, and says so.
  http::ProfileRequest slow;
  slow.seconds = 1;
  slow.hz = 5;
  kind.Profile(slow, keep);
  context.io().restart();
  context.io().run_for(1300ms);
  REQUIRE(profiles.size() == 2);
  CHECK(source->starts == std::vector<int>{19, 99, 19});

  // ?past=N answers at once, without opening a window.
  http::ProfileRequest past;
  past.past_seconds = 10;
  kind.Profile(past, keep);
  REQUIRE(profiles.size() == 3);
  http::ProfileRequest too_far;
  too_far.past_seconds = 61;
  std::string refused;
  http::BackendErrorKind refused_kind = http::BackendErrorKind::kInternal;
  kind.Profile(too_far, [&](StatusOr<std::string> profile, http::BackendErrorKind error_kind) {
    refused = profile.status().message();
    refused_kind = error_kind;
  });
  CHECK(refused == "bad past=61: want an integer from 1 to 60 (the history holds --history 60s)");
  CHECK(refused_kind == http::BackendErrorKind::kBadRequest);

  testing::GoTool go;
  REQUIRE(go.ok());
  testing::CommandResult slow_raw = go.Pprof("-raw", go.WriteFile("slow.pb.gz", profiles[1]));
  CHECK_THAT(slow_raw.output, Catch::Contains("sampled at 19 Hz"));
  testing::CommandResult past_raw = go.Pprof("-raw", go.WriteFile("past.pb.gz", profiles[2]));
  CHECK_THAT(past_raw.output, Catch::Contains("the last 10 s from the look-back history "
                                              "(--continuous 19, --history 60s)"));
  // The history began moments ago: the profile says it covers less, and why.
  CHECK_THAT(past_raw.output, Catch::Contains("the history begins at"));
  CHECK_THAT(past_raw.output, Catch::Contains("Period: 52631578"));

  kind.FinishAll("pprofd is shutting down");
  CHECK_FALSE(source->running());
}

TEST_CASE("Without --continuous, past=N is refused with the flag to add", "[cpu_kind]") {
  testing::SleepingChild child;
  auto target = target::TargetProcess::Open(child.pid());
  REQUIRE(target.ok());
  host::TargetContext context(std::move(*target), nullptr);
  CpuKind kind(&context, std::make_unique<ScriptedSource>());
  REQUIRE(kind.StartContinuous().ok());  // nothing to start
  CHECK_FALSE(kind.Attached());
  http::ProfileRequest past;
  past.past_seconds = 10;
  std::string refused;
  kind.Profile(past, [&](StatusOr<std::string> profile) { refused = profile.status().message(); });
  CHECK_THAT(refused, Catch::StartsWith("past=N needs pprofd --continuous HZ"));
}

}  // namespace
}  // namespace pprofd::kinds::cpu
