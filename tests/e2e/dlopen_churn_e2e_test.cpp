// End to end: a target that keeps loading fresh shared objects (tests/fixtures/dlopen_churn:
// copy, dlopen, run churn_hot_spin ~20 ms, dlclose, unlink; ~50 times a second, 8 copies loaded
// at a time) cannot make
// pprofd keep every file it ever saw open. Over 20 successive 1-second CPU profiles taken by the
// real `go tool pprof`, pprofd's descriptors (/proc/PID/fd) stay under a ceiling, its memory does
// not keep growing, /healthz answers throughout, and the profiles keep naming the hot function in
// the churned libraries.
//
// The ceiling: the descriptors pprofd holds once attached (its own, the BPF objects, the ELF
// files the target maps then) plus ElfCacheLimits::max_idle_files (64: files of libraries the
// target unloaded, kept for profiles still to name them) plus the 8 copies the target has loaded
// at a time, plus 16 for what comes and goes (HTTP connections, /proc reads). pprofd before the
// limits went from 75 to 490 descriptors over the same 20 profiles, one per copy it saw.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

constexpr int kProfiles = 20;
constexpr int kFdSlack = 64 + 8 + 16;
constexpr int64_t kRssGrowthLimitKb = 8 * 1024;  // before the limits: +17 MiB

int FdCount(pid_t pid) {
  int count = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

int64_t VmRssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// The metric's value in a /metrics scrape, -1 when absent.
double MetricValue(const std::string& scrape, const std::string& name) {
  for (const std::string& line : Lines(scrape)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

struct ChurnShare {
  int64_t in_churned = 0;  // samples with a frame in a churned copy of the library
  int64_t named_hot = 0;   // of those, the frame is named churn_hot_spin
  int64_t total = 0;
};

ChurnShare CountChurned(const RawProfile& profile) {
  ChurnShare share;
  for (const RawSample& sample : profile.samples) {
    share.total += sample.values[0];
    for (int location_id : sample.locations) {
      const RawLocation& location = profile.locations.at(location_id);
      auto mapping = profile.mappings.find(location.mapping);
      if (mapping == profile.mappings.end() ||
          mapping->second.file.find("pprofd-churn-") == std::string::npos) {
        continue;
      }
      share.in_churned += sample.values[0];
      for (const RawLine& line : location.lines) {
        if (line.function == "churn_hot_spin") {
          share.named_hot += sample.values[0];
          break;
        }
      }
      break;
    }
  }
  return share;
}

void ProfileTheChurn(const std::vector<std::string>& churn_flags) {
  const std::string dir = TempDir();  // where the copies go; removed with what a kill leaves
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_dir{dir};
  std::vector<std::string> argv = {FixturePath("dlopen_churn/dlopen_churn"), "--dir=" + dir};
  argv.insert(argv.end(), churn_flags.begin(), churn_flags.end());
  Subprocess churn(argv);
  REQUIRE(WaitForReady(churn));
  Agent agent(churn.pid());
  REQUIRE(agent.listening());
  const pid_t agent_pid = agent.process().pid();
  const int idle_fds = FdCount(agent_pid);
  REQUIRE(idle_fds > 0);
  const double idle_open_files = MetricValue(
      BodyOf(Curl({"--max-time", "5", agent.Url("/metrics")}).out), "pprofd_elf_files_open");
  REQUIRE(idle_open_files >= 0);

  ChurnShare all;
  std::vector<int> fds;
  std::vector<int64_t> rss_kb;
  for (int i = 0; i < kProfiles; ++i) {
    RawProfile profile;
    std::string error;
    const bool fetched =
        FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=1"), &profile, &error);
    INFO("profile " << i << ": " << error);
    REQUIRE(fetched);
    const ChurnShare share = CountChurned(profile);
    all.in_churned += share.in_churned;
    all.named_hot += share.named_hot;
    all.total += share.total;
    CommandResult health = Curl({"--max-time", "5", agent.Url("/healthz")});
    INFO("healthz after profile " << i << ": " << health.out << health.err);
    REQUIRE(StatusCode(health.out) == 200);
    fds.push_back(FdCount(agent_pid));
    rss_kb.push_back(VmRssKb(agent_pid));
  }
  REQUIRE(churn.Running());
  const std::string loads = churn.Stderr();

  std::string fd_series;
  for (int n : fds) fd_series += std::to_string(n) + " ";
  std::string rss_series;
  for (int64_t kb : rss_kb) rss_series += std::to_string(kb / 1024) + " ";
  INFO("pprofd fds: idle " << idle_fds << ", after each profile: " << fd_series);
  INFO("pprofd VmRSS (MiB) after each profile: " << rss_series);
  INFO("samples: " << all.total << ", in churned libraries: " << all.in_churned
                   << ", named churn_hot_spin there: " << all.named_hot);
  INFO("target's progress (stderr): " << loads.substr(loads.size() > 200 ? loads.size() - 200 : 0));
  for (int n : fds) CHECK(n <= idle_fds + kFdSlack);
  // Memory: what the first profiles allocate (caches, buffers) is reused, not added to.
  CHECK(rss_kb.back() - rss_kb[2] <= kRssGrowthLimitKb);
  // The churned libraries are profiled, and their hot function named in most of their samples.
  CHECK(all.in_churned * 5 >= all.total);
  CHECK(all.named_hot * 10 >= all.in_churned * 8);

  std::string scrape = BodyOf(Curl({"--max-time", "5", agent.Url("/metrics")}).out);
  INFO(scrape);
  const double open_files = MetricValue(scrape, "pprofd_elf_files_open");
  CHECK(open_files >= 1);
  CHECK(open_files <= idle_open_files + 64 + 8);
  CHECK(MetricValue(scrape, "pprofd_elf_files_mapped_bytes") > 0);
}

}  // namespace

TEST_CASE("A target loading fresh copies of one library (one build-id) leaks no descriptors",
          "[dlopen_churn]") {
  ProfileTheChurn({});
}

TEST_CASE("A target loading libraries with a new build-id each time leaks no descriptors",
          "[dlopen_churn]") {
  ProfileTheChurn({"--distinct-build-ids"});
}

}  // namespace pprofd::e2e
