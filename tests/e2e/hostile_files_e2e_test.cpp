// End to end: a target that changes its own files under pprofd (issue 13). The real pprofd
// profiles tests/fixtures/hostile_files/truncating_target, which spins in a shared object it
// loaded and then truncates that file to 0 bytes in the middle of a CPU profile. A profiler that
// maps the target's files gets SIGBUS on its next read of the file's pages; pprofd must answer the
// profile (the library's frames named right, or as module+offset, never from other bytes), keep
// answering /healthz and later profiles, and stop on SIGTERM.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct RemoveDir {
  std::string path;
  ~RemoveDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Names the frames of the truncated library were given, with their sample counts.
std::map<std::string, int64_t> TruncatedLibraryNames(const RawProfile& profile) {
  std::map<std::string, int64_t> names;
  for (const RawSample& sample : profile.samples) {
    for (int location_id : sample.locations) {
      const RawLocation& location = profile.locations.at(location_id);
      auto mapping = profile.mappings.find(location.mapping);
      if (mapping == profile.mappings.end() ||
          mapping->second.file.find("libtruncated.so") == std::string::npos) {
        continue;
      }
      if (location.lines.empty()) {
        names["(no name)"] += sample.values[0];
      }
      for (const RawLine& line : location.lines) names[line.function] += sample.values[0];
    }
  }
  return names;
}

}  // namespace

TEST_CASE("A target truncating a loaded library during a profile does not kill pprofd",
          "[hostile_files]") {
  const std::string dir = TempDir();
  RemoveDir remove_dir{dir};
  Subprocess target({FixturePath("hostile_files/truncating_target"),
                     FixturePath("dlopen_churn/libchurn_hot.so"), dir});
  REQUIRE(WaitForReady(target));
  Agent agent(target.pid());
  REQUIRE(agent.listening());

  // The window: 1.5 s of samples in the library (its file opened to unwind them), then the
  // truncation, then the rest; the library's frames are named when the window ends, after it.
  auto profile_future = std::async(std::launch::async, [&] {
    RawProfile profile;
    std::string error;
    bool ok = FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=3"), &profile, &error);
    return std::make_tuple(ok, profile, error);
  });
  std::this_thread::sleep_for(milliseconds(1500));
  target.Signal(SIGUSR1);
  REQUIRE(WaitForStdout(target, "truncated", seconds(5)));
  auto [ok, profile, error] = profile_future.get();

  INFO("pprofd stderr: " << agent.process().Stderr());
  REQUIRE(agent.process().Running());
  INFO("profile: " << error);
  REQUIRE(ok);
  // The library's frames: its function's name (read before the truncation) or none (module+offset
  // in pprof's view), never a name from other bytes.
  const std::map<std::string, int64_t> names = TruncatedLibraryNames(profile);
  int64_t in_library = 0;
  for (const auto& [name, count] : names) {
    INFO("frame in the truncated library named " << name);
    CHECK((name == "churn_hot_spin" || name == "(no name)"));
    in_library += count;
  }
  CHECK(in_library > 0);

  CommandResult health = Curl({"--max-time", "5", agent.Url("/healthz")});
  CHECK(StatusCode(health.out) == 200);
  RawProfile after;
  CHECK(FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=1"), &after, &error));
  CHECK(SharePercent(after, "SpinHere") > 50);
  REQUIRE(agent.process().Running());

  const auto start = std::chrono::steady_clock::now();
  agent.process().Signal(SIGTERM);
  CHECK(agent.process().Wait(seconds(5)).has_value());
  INFO("stopped in "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
}

}  // namespace pprofd::e2e
