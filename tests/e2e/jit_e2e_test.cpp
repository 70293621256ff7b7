// End to end: code outside ELF files. The real agent profiles a JIT stand-in and names its code
// from the perf map the workload writes (both number formats, a map that appears or grows while
// the agent runs), and names code without an entry by its anonymous mapping. And stacks are
// honest where unwinding cannot go on: no frame outside every mapping, stacks through code without
// CFI (static musl) and through Go's stack switches end in a marker.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/harness/agent_harness.h"
#include "tests/e2e/harness/perf_reference.h"

namespace pprofd::e2e {
namespace {

struct JitFunction {
  std::string name;
  uint64_t start = 0;
  uint64_t size = 0;
};

struct AnonymousMapping {
  uint64_t start = 0;
  std::string path;  // "" or "[anon:NAME]"
};

// The JIT stand-in (tests/fixtures/jit/jit_workload.c); removes its perf map when done.
class JitWorkload {
 public:
  explicit JitWorkload(const std::vector<std::string>& flags) : process_(Argv(flags)) {
    REQUIRE(WaitForReady(process_));
    std::istringstream out(process_.Stdout());
    for (std::string line; std::getline(out, line);) {
      std::istringstream fields(line);
      std::string tag;
      JitFunction function;
      if (fields >> tag >> function.name >> std::hex >> function.start >> function.size &&
          tag == "fn") {
        functions_.push_back(function);
      }
    }
    REQUIRE(functions_.size() == 5);
  }
  ~JitWorkload() { std::remove(PerfMapPath().c_str()); }

  Subprocess& process() { return process_; }
  std::string PerfMapPath() const { return "/tmp/perf-" + std::to_string(process_.pid()) + ".map"; }
  const JitFunction& Function(const std::string& name) const {
    auto it = std::find_if(functions_.begin(), functions_.end(),
                           [&](const JitFunction& f) { return f.name == name; });
    REQUIRE(it != functions_.end());
    return *it;
  }
  // The mapping holding `address`, from the workload's /proc/PID/maps.
  AnonymousMapping MappingOf(uint64_t address) const {
    std::ifstream maps("/proc/" + std::to_string(process_.pid()) + "/maps");
    for (std::string line; std::getline(maps, line);) {
      uint64_t start = 0;
      uint64_t end = 0;
      char dash = 0;
      std::istringstream fields(line);
      fields >> std::hex >> start >> dash >> end;
      if (address < start || address >= end) continue;
      std::string perms, offset, device, inode, path;
      fields >> perms >> offset >> device >> inode;
      std::getline(fields >> std::ws, path);
      return {start, path};
    }
    FAIL("no mapping holds 0x" << std::hex << address);
    return {};
  }

 private:
  static std::vector<std::string> Argv(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {FixturePath("jit/jit_workload")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }
  Subprocess process_;
  std::vector<JitFunction> functions_;
};

RawProfile CpuProfile(const Agent& agent, int seconds) {
  RawProfile profile;
  std::string error;
  const bool fetched = FetchRawProfile(
      agent.Url("/debug/pprof/profile?seconds=" + std::to_string(seconds)), &profile, &error);
  INFO(error);
  REQUIRE(fetched);
  return profile;
}

// Share (0-100) of samples with a frame named "<mapping>+0xOFFSET" whose offset from the start of
// the anonymous mapping lies inside `function`: the honest name of code without a perf map entry.
double AnonymousShare(const RawProfile& profile, const JitFunction& function,
                      const AnonymousMapping& mapping) {
  const std::string prefix = (mapping.path.empty() ? "[anon]" : mapping.path) + "+0x";
  int64_t with = 0;
  for (const RawSample& sample : profile.samples) {
    for (const std::string& name : profile.Functions(sample)) {
      if (name.rfind(prefix, 0) != 0) continue;
      const uint64_t offset = std::stoull(name.substr(prefix.size()), nullptr, 16);
      if (offset >= function.start - mapping.start &&
          offset < function.start - mapping.start + function.size) {
        with += sample.values[0];
        break;
      }
    }
  }
  return 100.0 * static_cast<double>(with) / static_cast<double>(profile.TotalCount());
}

bool IsMarker(const std::string& name) {
  return name.rfind("[unwind", 0) == 0 || name == "[no user stack]";
}

// Every location is a marker (no mapping, no address) or lies in a mapping: no bare address
// outside every mapping (a garbage "return address") is ever shown.
void CheckEveryFrameInAMapping(const RawProfile& profile) {
  for (const auto& [id, location] : profile.locations) {
    const std::string name = location.lines.empty() ? "" : location.lines.front().function;
    INFO("location " << id << " at 0x" << std::hex << location.address << " named '" << name
                     << "'");
    if (location.mapping == 0) {
      CHECK(IsMarker(name));
    } else {
      CHECK(profile.mappings.count(location.mapping) == 1);
      CHECK_FALSE(IsMarker(name));
      // A module+offset name always names its module.
      CHECK(name.rfind("+0x", 0) != 0);
    }
  }
}

// Share (0-100) of samples holding a frame named `name` whose stack is complete: it reaches main
// and ends in no marker.
double CompleteShareWith(const RawProfile& profile, const std::string& name) {
  int64_t with = 0;
  int64_t complete = 0;
  for (const RawSample& sample : profile.samples) {
    std::vector<std::string> names = profile.Functions(sample);
    if (std::find(names.begin(), names.end(), name) == names.end()) continue;
    with += sample.values[0];
    if (std::find(names.begin(), names.end(), "main") != names.end() && !IsMarker(names.back())) {
      complete += sample.values[0];
    }
  }
  return with == 0 ? 0 : 100.0 * static_cast<double>(complete) / static_cast<double>(with);
}

TEST_CASE("JIT code is named from the target's perf map, code without an entry honestly") {
  const std::string format = GENERATE(as<std::string>{}, "plain", "0x");
  INFO("perf map format: " << format);
  JitWorkload workload({"--format=" + format});
  Agent agent(workload.process().pid());
  REQUIRE(agent.listening());
  // perf --call-graph dwarf in the same window: it reads the same perf map.
  RawProfile profile;
  PerfRecording perf;
  std::string error;
  const bool profiled = ProfileBesidePerf(agent.Url("/debug/pprof/profile?seconds=3"),
                                          workload.process().pid(), 3, &profile, &perf, &error);
  INFO(error);
  REQUIRE(profiled);
  INFO(JoinComments(profile));
  // The machine may be busy: 3 s at 99 Hz is ~300 samples when the workload has a CPU.
  REQUIRE(profile.TotalCount() > 50);
  REQUIRE(perf.stacks.size() > 50);

  // Each function takes 2/11 to 3/11 of the time.
  CHECK(SharePercent(profile, "jit_alpha") > 8);
  CHECK(SharePercent(profile, "jit::Beta()") > 5);  // demangled from _ZN3jit4BetaEv
  CHECK(SharePercent(profile, "jit_epsilon") > 5);
  for (const char* unnamed : {"jit_gamma", "jit_delta"}) {
    const JitFunction& function = workload.Function(unnamed);
    const AnonymousMapping mapping = workload.MappingOf(function.start);
    INFO(unnamed << " at 0x" << std::hex << function.start << " in a mapping at 0x" << mapping.start
                 << " named '" << mapping.path << "'");
    CHECK(AnonymousShare(profile, function, mapping) > 5);
  }
  // The JIT code keeps frame pointers: its stacks go on through the C caller to main.
  CHECK(CompleteShareWith(profile, "jit_alpha") > 95);
  CHECK(CompleteShareWith(profile, "RunRound") > 95);
  CheckEveryFrameInAMapping(profile);

  // perf names the same functions from the map (leaving the C++ one mangled, and code without
  // an entry "[unknown]"), but its DWARF unwinder finds no CFI for JIT code and stops there;
  // pprofd falls back to the frame pointers JITs keep.
  size_t perf_named = 0;
  for (const auto& stack : perf.stacks) {
    if (stack.empty()) continue;
    const std::string& leaf = stack.front().function;
    if (leaf == "jit_alpha" || leaf == "_ZN3jit4BetaEv" || leaf == "jit::Beta()" ||
        leaf == "jit_epsilon") {
      ++perf_named;
    }
  }
  const double perf_named_percent = 100.0 * perf_named / perf.stacks.size();
  const double pprofd_named_percent = SharePercent(profile, "jit_alpha") +
                                      SharePercent(profile, "jit::Beta()") +
                                      SharePercent(profile, "jit_epsilon");
  const double perf_roots = RootReachedPercent(perf);
  const double pprofd_roots = RootReachedPercent(profile);
  WARN("JIT workload (" << format << "): samples in a perf-map function: pprofd "
                        << pprofd_named_percent << "%, perf " << perf_named_percent
                        << "%; stacks reaching _start: pprofd " << pprofd_roots << "%, perf "
                        << perf_roots << "%");
  CHECK(pprofd_named_percent > perf_named_percent - 20);  // the same code, sampled apart
  CHECK(pprofd_roots >= perf_roots);
  CHECK(pprofd_roots > 90);
}

TEST_CASE("A perf map that appears or grows while the agent runs is read") {
  const bool file_appears = GENERATE(true, false);
  INFO((file_appears ? "no perf map until later" : "the perf map grows later"));
  std::vector<std::string> flags = {"--late-ms=7000"};
  if (file_appears) flags.push_back("--all-late");
  JitWorkload workload(flags);
  Agent agent(workload.process().pid());
  REQUIRE(agent.listening());
  const JitFunction& epsilon = workload.Function("jit_epsilon");
  const AnonymousMapping mapping = workload.MappingOf(epsilon.start);

  RawProfile before = CpuProfile(agent, 2);
  REQUIRE_FALSE(workload.process().Stdout().find("late map written") != std::string::npos);
  CHECK(SharePercent(before, "jit_epsilon") == 0);
  CHECK(AnonymousShare(before, epsilon, mapping) > 5);
  CHECK((SharePercent(before, "jit_alpha") > 8) == !file_appears);

  REQUIRE(WaitForStdout(workload.process(), "late map written", std::chrono::seconds(15)));
  RawProfile after = CpuProfile(agent, 2);
  INFO(JoinComments(after));
  CHECK(SharePercent(after, "jit_epsilon") > 5);
  CHECK(AnonymousShare(after, epsilon, mapping) == 0);
  CHECK(SharePercent(after, "jit_alpha") > 8);
  CheckEveryFrameInAMapping(after);
}

TEST_CASE("Stacks through static musl, which has no CFI, end in a marker") {
  Subprocess workload({FixturePath("jit/musl_nocfi_spin")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  RawProfile profile = CpuProfile(agent, 3);
  INFO(JoinComments(profile));
  REQUIRE(profile.TotalCount() > 100);
  // musl's libc.a has no CFI and no frame pointers, and neither have its _start_c and
  // __libc_start_main: no stack can be proven complete, so every one ends in a marker,
  // including those sampled in musl's functions (memcpy, qsort's helpers) and in ZeroBpSpin,
  // whose rbp points at a zero "return address" (once taken for the end of a complete stack).
  int64_t in_libc = 0;
  for (const RawSample& sample : profile.samples) {
    std::vector<std::string> names = profile.Functions(sample);
    REQUIRE_FALSE(names.empty());
    INFO("stack: " << [&] {
      std::string all;
      for (const auto& n : names) all += n + " < ";
      return all;
    }());
    CHECK(IsMarker(names.back()));
    const std::string& leaf = names.front();
    if (leaf != "main" && leaf != "Mix" && leaf != "Compare" && leaf != "ZeroBpSpin" &&
        !IsMarker(leaf)) {
      in_libc += sample.values[0];
    }
  }
  CHECK(in_libc > profile.TotalCount() / 5);
  CHECK(SharePercent(profile, "ZeroBpSpin") > 5);
  CheckEveryFrameInAMapping(profile);
}

TEST_CASE("Go's stack switches end the stack in their own marker, not in garbage") {
  Subprocess workload({FixturePath("jit/go_churn")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  RawProfile profile = CpuProfile(agent, 4);
  INFO(JoinComments(profile));
  REQUIRE(profile.TotalCount() > 100);
  int64_t switched = 0;
  for (const RawSample& sample : profile.samples) {
    std::vector<std::string> names = profile.Functions(sample);
    REQUIRE_FALSE(names.empty());
    if (names.back() == "[unwind: Go stack switch]") {
      REQUIRE(names.size() >= 2);
      const std::string& outermost = names[names.size() - 2];
      switched += sample.values[0];
      // The frame before the marker is the function that switched stacks.
      CHECK((outermost == "runtime.systemstack" || outermost == "runtime.mcall" ||
             outermost == "runtime.morestack" || outermost == "runtime.asmcgocall"));
    }
    // Nothing follows a stack switch: before, garbage read from the system stack did.
    for (size_t i = 0; i + 1 < names.size(); ++i) {
      if (names[i] == "runtime.systemstack" || names[i] == "runtime.mcall" ||
          names[i] == "runtime.morestack") {
        CHECK(names[i + 1] == "[unwind: Go stack switch]");
      }
    }
  }
  // The garbage collector, channel parking and stack growth run on the system stack often.
  CHECK(switched > 0);
  CHECK(SharePercent(profile, "[unwind: unknown mapping]") < 1);
  CheckEveryFrameInAMapping(profile);
}

}  // namespace
}  // namespace pprofd::e2e
