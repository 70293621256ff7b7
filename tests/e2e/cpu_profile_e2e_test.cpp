// End to end: the real agent, real BPF, real workloads and the real `go tool pprof`.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/agent_harness.h"

namespace pprofd::e2e {
namespace {

bool WaitForReady(Subprocess& process) {
  for (int i = 0; i < 500; ++i) {
    if (process.Stdout().find("ready") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int LineOf(const std::string& path, const std::string& marker) {
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find(marker) != std::string::npos) return number;
  }
  return -1;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool StartsWithAny(const std::vector<std::string>& names, const std::string& prefix) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

bool ContainsSubstring(const std::vector<std::string>& names, const std::string& part) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

// Share of samples whose unwinding completed: no marker frame, and the stack reaches main or the
// thread's start routine (the workload's Alpha/Beta; libc's own start_thread has a name only
// when libc's debug symbols are installed, so it is not relied on).
double CompleteSharePercent(const RawProfile& profile) {
  int64_t complete = 0;
  for (const auto& sample : profile.samples) {
    auto names = profile.Functions(sample);
    bool reached = Contains(names, "main") || ContainsSubstring(names, "::Alpha") ||
                   ContainsSubstring(names, "::Beta");
    if (reached && !StartsWithAny(names, "[unwind")) complete += sample.values[0];
  }
  return 100.0 * static_cast<double>(complete) / static_cast<double>(profile.TotalCount());
}

// utime + stime of `pid` in nanoseconds, from /proc/PID/stat.
int64_t ProcessCpuNs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) {
      stime = std::stoll(field);
      break;
    }
  }
  return (utime + stime) * (1000000000 / sysconf(_SC_CLK_TCK));
}

// Fetches a profile and checks that the CPU time it accounts for matches what the kernel says the
// workload used: samples lost anywhere on the way would show here.
RawProfile FetchAndCheckCpuTime(const Agent& agent, pid_t pid, int seconds) {
  const int64_t cpu_before = ProcessCpuNs(pid);
  const auto wall_before = std::chrono::steady_clock::now();
  RawProfile profile;
  std::string error;
  bool fetched = FetchRawProfile(
      agent.Url("/debug/pprof/profile?seconds=" + std::to_string(seconds)), &profile, &error);
  INFO(error);
  REQUIRE(fetched);
  const int64_t cpu_used = ProcessCpuNs(pid) - cpu_before;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before)
                          .count();
  int64_t profiled_ns = 0;
  for (const auto& sample : profile.samples) profiled_ns += sample.values[1];
  // The measured interval also covers the client's start-up and the response, so it is a bit
  // longer than the profile's window: scale it to the window.
  const double expected_ns = static_cast<double>(cpu_used) * seconds / wall;
  INFO("profiled " << profiled_ns / 1e6 << " ms of CPU; the kernel counted " << cpu_used / 1e6
                   << " ms in " << wall << " s, so ~" << expected_ns / 1e6
                   << " ms in the window");
  CHECK(static_cast<double>(profiled_ns) == Approx(expected_ns).epsilon(0.15));
  return profile;
}

void CheckKnownSplit(const RawProfile& profile) {
  INFO("comments: " << (profile.comments.empty() ? "" : profile.comments[0]));
  CHECK(profile.TotalCount() > 100);
  CHECK(SharePercent(profile, "HotAlpha") == Approx(50.0).margin(5.0));
  CHECK(SharePercent(profile, "HotBeta") == Approx(37.5).margin(5.0));
  CHECK(SharePercent(profile, "HotGamma") == Approx(12.5).margin(5.0));
  CHECK(CompleteSharePercent(profile) >= 95.0);

  std::set<std::string> thread_names;
  for (const auto& sample : profile.samples) {
    REQUIRE(sample.labels.count("thread_id") == 1);
    REQUIRE(sample.labels.count("thread_name") == 1);
    thread_names.insert(sample.labels.at("thread_name"));
  }
  CHECK(thread_names.count("alpha") == 1);
  CHECK(thread_names.count("beta") == 1);
}

}  // namespace

TEST_CASE("CPU profile of an -O2 -fomit-frame-pointer workload built with -g") {
  const std::string binary = FixturePath("workloads/cpu_split_g");
  Subprocess workload({binary});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());

  RawProfile profile = FetchAndCheckCpuTime(agent, workload.pid(), 5);
  CheckKnownSplit(profile);
  CHECK(profile.period_type == "cpu nanoseconds");
  CHECK(profile.period == 1000000000 / 99);

  // mapping[0] is the main executable, with its build-id and every has_* flag.
  REQUIRE(profile.mappings.count(1) == 1);
  CHECK(profile.mappings[1].file == binary);
  CHECK(profile.mappings[1].build_id.size() == 40);
  CHECK(profile.mappings[1].flags == "[FN][FL][LN][IN]");

  // The inline frame: MixBits inside HotBeta, at the right lines of the right file.
  const std::string source = std::string(PPROFD_SOURCE_DIR) + "/tests/fixtures/workloads/cpu_split.cpp";
  const int body = LineOf(source, "MARKER: MixBits body");
  const int call = LineOf(source, "MARKER: MixBits call");
  bool found_inline = false;
  for (const auto& [id, location] : profile.locations) {
    if (location.lines.size() < 2) continue;
    const RawLine& inner = location.lines[0];
    const RawLine& outer = location.lines[1];
    if (inner.function.find("MixBits") == std::string::npos) continue;
    if (outer.function != "HotBeta") continue;
    found_inline = true;
    CHECK(inner.file == source);
    CHECK(inner.line >= body);
    CHECK(inner.line <= body + 2);
    CHECK(outer.line == call);
    CHECK(outer.file == source);
  }
  CHECK(found_inline);
}

TEST_CASE("CPU profile of the same workload without debug info uses the symbol table") {
  Subprocess workload({FixturePath("workloads/cpu_split_nog")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  RawProfile profile = FetchAndCheckCpuTime(agent, workload.pid(), 5);
  CheckKnownSplit(profile);
  CHECK(profile.mappings[1].flags == "[FN]");
}

TEST_CASE("CPU profile of a stripped Debian binary: xz reaches main through liblzma") {
  // Several MB of real, compressible input, so xz -9 works for longer than the profile.
  const std::string dir = TempDir();
  const std::string input = dir + "/input";
  {
    std::ofstream out(input, std::ios::binary);
    for (const char* lib : {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/bash",
                            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"}) {
      std::ifstream in(lib, std::ios::binary);
      out << in.rdbuf();
    }
  }
  // xz -9e on ~5 MB runs for several seconds per pass; repeat the file name to keep it busy.
  Subprocess workload({"sh", "-c", "exec xz -9e -T1 -c -k " + [&] {
                         std::string files;
                         for (int i = 0; i < 20; ++i) files += input + " ";
                         return files;
                       }() + "> /dev/null"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(workload.Running());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  RawProfile profile;
  std::string error;
  REQUIRE(FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=4"), &profile, &error));
  INFO(error);
  CHECK(profile.TotalCount() > 200);

  int64_t complete = 0, through_lzma = 0;
  for (const auto& sample : profile.samples) {
    auto names = profile.Functions(sample);
    bool reached_libc_start = Contains(names, "__libc_start_main") ||
                              Contains(names, "__libc_start_main_impl") ||
                              Contains(names, "__libc_start_call_main");
    if (reached_libc_start && !StartsWithAny(names, "[unwind")) complete += sample.values[0];
    if (Contains(names, "lzma_code")) through_lzma += sample.values[0];
  }
  const double total = static_cast<double>(profile.TotalCount());
  CHECK(100.0 * complete / total >= 95.0);
  CHECK(100.0 * through_lzma / total >= 80.0);
  std::set<std::string> files;
  for (const auto& [id, mapping] : profile.mappings) files.insert(mapping.file);
  CHECK(files.count("/usr/bin/xz") == 1);
  CHECK(std::any_of(files.begin(), files.end(), [](const std::string& f) {
    return f.find("liblzma.so") != std::string::npos;
  }));
}

}  // namespace pprofd::e2e
