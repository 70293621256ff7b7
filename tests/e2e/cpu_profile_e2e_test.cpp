// End to end: the real agent, real BPF, real workloads and the real `go tool pprof`.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

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

// libc's entry is __libc_start_main in its symbol table and __libc_start_main_impl in its debug
// info (libc6-dbg); __libc_start_call_main has a name only with the debug info.
bool ReachesLibcStart(const std::vector<std::string>& names) {
  return Contains(names, "__libc_start_main") || Contains(names, "__libc_start_main_impl") ||
         Contains(names, "__libc_start_call_main");
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

// utime + stime in nanoseconds from a /proc/.../stat file.
int64_t CpuNsFromStat(const std::string& path) {
  std::ifstream in(path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stat.empty()) return 0;
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

// CPU time per thread name of process `pid`, as the kernel accounts it.
std::map<std::string, int64_t> ThreadCpuNs(pid_t pid) {
  std::map<std::string, int64_t> cpu;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(task_dir)) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    cpu[name] += CpuNsFromStat(entry.path() / "stat");
  }
  return cpu;
}

// Fetches a profile and derives the shares each hot function should have from what the kernel
// says each thread used meanwhile: thread "alpha" is all HotAlpha, thread "beta" splits 3:1
// between HotBeta and HotGamma. The scheduler may favour one thread on a busy machine; the
// kernel's accounting keeps the expectation honest. Also checks that the CPU time the profile
// accounts for matches the kernel's: samples lost on the way would show.
RawProfile FetchAndCheckShares(const Agent& agent, pid_t pid, int seconds) {
  const auto cpu_before = ThreadCpuNs(pid);
  const auto wall_before = std::chrono::steady_clock::now();
  RawProfile profile;
  std::string error;
  bool fetched = FetchRawProfile(
      agent.Url("/debug/pprof/profile?seconds=" + std::to_string(seconds)), &profile, &error);
  INFO(error);
  REQUIRE(fetched);
  auto cpu_after = ThreadCpuNs(pid);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  const double alpha = static_cast<double>(cpu_after["alpha"] - cpu_before.at("alpha"));
  const double beta = static_cast<double>(cpu_after["beta"] - cpu_before.at("beta"));
  REQUIRE(alpha + beta > 0);
  const double alpha_percent = 100.0 * alpha / (alpha + beta);
  const double beta_percent = 100.0 - alpha_percent;
  INFO("the kernel counted alpha " << alpha / 1e6 << " ms, beta " << beta / 1e6 << " ms");
  INFO("comments: " << (profile.comments.empty() ? "" : profile.comments[0]));
  CHECK(profile.TotalCount() > 100);
  CHECK(SharePercent(profile, "HotAlpha") == Approx(alpha_percent).margin(5.0));
  CHECK(SharePercent(profile, "HotBeta") == Approx(beta_percent * 0.75).margin(5.0));
  CHECK(SharePercent(profile, "HotGamma") == Approx(beta_percent * 0.25).margin(5.0));
  // On an idle machine the two threads share the two CPUs evenly: 50 / 37.5 / 12.5.

  int64_t profiled_ns = 0;
  for (const auto& sample : profile.samples) profiled_ns += sample.values[1];
  // The measured interval also covers the client's start-up and the response, so it is a bit
  // longer than the profile's window: scale it to the window.
  const double expected_ns = (alpha + beta) * seconds / wall;
  INFO("profiled " << profiled_ns / 1e6 << " ms of CPU; the kernel counted " << (alpha + beta) / 1e6
                   << " ms in " << wall << " s, so ~" << expected_ns / 1e6 << " ms in the window");
  CHECK(static_cast<double>(profiled_ns) == Approx(expected_ns).epsilon(0.15));
  return profile;
}

void CheckStacksAndLabels(const RawProfile& profile) {
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

  RawProfile profile = FetchAndCheckShares(agent, workload.pid(), 5);
  CheckStacksAndLabels(profile);
  CHECK(profile.period_type == "cpu nanoseconds");
  CHECK(profile.period == 1000000000 / 99);

  // mapping[0] is the main executable, with its build-id and every has_* flag.
  REQUIRE(profile.mappings.count(1) == 1);
  CHECK(profile.mappings[1].file == binary);
  CHECK(profile.mappings[1].build_id.size() == 40);
  CHECK(profile.mappings[1].flags == "[FN][FL][LN][IN]");

  // The inline frame: MixBits inside HotBeta, at the right lines of the right file.
  const std::string source =
      std::string(PPROFD_SOURCE_DIR) + "/tests/fixtures/workloads/cpu_split.cpp";
  const int body = LineOf(source, "MARKER: MixBits body");
  const int call = LineOf(source, "MARKER: MixBits call");
  bool found_inline = false;
  for (const auto& [id, location] : profile.locations) {
    if (location.lines.size() < 2) continue;
    const RawLine& inner = location.lines[0];
    const RawLine& outer = location.lines[1];
    if (inner.function.find("MixBits") == std::string::npos) continue;
    // Inlined static functions have no linkage name: qualified from their DWARF scopes.
    CHECK(inner.function == "(anonymous namespace)::MixBits");
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
  RawProfile profile = FetchAndCheckShares(agent, workload.pid(), 5);
  CheckStacksAndLabels(profile);
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
    if (ReachesLibcStart(names) && !StartsWithAny(names, "[unwind")) complete += sample.values[0];
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

namespace pprofd::e2e {

TEST_CASE("Kernel frames of a system-call-heavy process sit on top of its user stack") {
  // dd copying /dev/zero to /dev/null spends its time in read() and write(): kernel code.
  Subprocess workload({"dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=100000000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(workload.Running());
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  RawProfile profile;
  std::string error;
  bool fetched = FetchRawProfile(agent.Url("/debug/pprof/profile?seconds=3"), &profile, &error);
  INFO(error);
  REQUIRE(fetched);

  int kernel_mapping = 0;
  for (const auto& [id, mapping] : profile.mappings) {
    if (mapping.file == "[kernel]") kernel_mapping = id;
  }
  REQUIRE(kernel_mapping != 0);
  int64_t with_kernel = 0, complete = 0;
  for (const auto& sample : profile.samples) {
    bool kernel_leaf = false;
    if (!sample.locations.empty()) {
      const RawLocation& leaf = profile.locations.at(sample.locations.front());
      // A kernel leaf named from kallsyms, not a bare address.
      kernel_leaf = leaf.mapping == kernel_mapping && !leaf.lines.empty() &&
                    leaf.lines[0].function.rfind("[kernel]", 0) != 0;
    }
    if (kernel_leaf) with_kernel += sample.values[0];
    auto names = profile.Functions(sample);
    if (ReachesLibcStart(names) && !StartsWithAny(names, "[unwind")) complete += sample.values[0];
  }
  const double total = static_cast<double>(profile.TotalCount());
  INFO("samples " << total << ", kernel leaf " << with_kernel << ", complete " << complete);
  CHECK(100.0 * with_kernel / total >= 50.0);
  // Under the kernel frames, the user stack is unwound from the registers saved at kernel entry.
  CHECK(100.0 * complete / total >= 95.0);
}

}  // namespace pprofd::e2e

namespace pprofd::e2e {

TEST_CASE("The thread filter works when pprofd runs in another PID namespace") {
  // pprofd and its target share a new PID namespace (a sidecar in a pod sharing its PID
  // namespace): there the target is PID 2, while the kernel's own numbering differs. The BPF
  // filter must compare PIDs as pprofd's namespace sees them.
  const int port = FreePort();
  const std::string script = FixturePath("workloads/cpu_split_g") +
                             " 60 >/dev/null & sleep 0.3; exec " + AgentPath() +
                             " --pid $! --listen 127.0.0.1:" + std::to_string(port);
  Subprocess sandbox({"unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script});
  REQUIRE(WaitForPort(port, std::chrono::seconds(20)));
  RawProfile profile;
  std::string error;
  bool fetched =
      FetchRawProfile("http://127.0.0.1:" + std::to_string(port) + "/debug/pprof/profile?seconds=3",
                      &profile, &error);
  INFO(error << sandbox.Stderr());
  REQUIRE(fetched);
  REQUIRE_FALSE(profile.comments.empty());
  CHECK(profile.comments[0].find("CPU profile of PID 2 ") != std::string::npos);
  CHECK(profile.TotalCount() > 100);
  CHECK(SharePercent(profile, "HotAlpha") > 25.0);
  CHECK(SharePercent(profile, "HotBeta") > 15.0);
}

}  // namespace pprofd::e2e
