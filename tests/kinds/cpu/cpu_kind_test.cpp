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
  // Closing the first did not restart the source for the second.
  CHECK(source->starts == std::vector<int>{99, 99});
  std::string refused;
  kind.Profile(request,
               [&](StatusOr<std::string> profile) { refused = profile.status().message(); });
  CHECK(refused == "pprofd is shutting down");
}

}  // namespace
}  // namespace pprofd::kinds::cpu
