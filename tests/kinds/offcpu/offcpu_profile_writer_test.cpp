// The off-CPU store's scaling and its writers on real frames of this very process: the pprof form
// checked against pprof's invariants and read back by the real `go tool pprof`, and Go's legacy
// contention text, which pprof's legacy parser must read to the same values.
#include "agent/kinds/offcpu/offcpu_profile_writer.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/unwinder.h"
#include "tests/proto/pprof_invariants.h"
#include "tests/support/go_tool.h"
#include "tests/support/this_process.h"

extern "C" __attribute__((noinline)) int OffCpuTestLock(int x) { return x * 11 + 1; }
extern "C" __attribute__((noinline)) int OffCpuTestRead(int x) { return x * 13 + 2; }
extern "C" __attribute__((noinline)) int OffCpuTestMain(int x) {
  return OffCpuTestLock(x) + OffCpuTestRead(x);
}

namespace pprofd::profiles {
namespace {

using perftools::profiles::Profile;
using testing::RawSampleValues;
using testing::ThisProcess;

constexpr char kKallsyms[] =
    "ffffffff81000000 T _stext\n"
    "ffffffff81100000 T schedule\n"
    "ffffffff81100400 T futex_wait_queue\n"
    "ffffffff81300000 T _etext\n";
constexpr uint64_t kRate = 1000;  // ns

// Threads blocked in a futex (lock) and in schedule (read), as the sched_switch and futex
// programs would record them at a 1 µs rate.
struct Workload {
  explicit Workload(ThisProcess& process) : store(kRate) {
    lock = process.FrameAt(reinterpret_cast<const void*>(&OffCpuTestLock));
    read = process.FrameAt(reinterpret_cast<const void*>(&OffCpuTestRead));
    main = process.FrameAt(reinterpret_cast<const void*>(&OffCpuTestMain));
    lock_stack = {Frame{kKernelModule, 0xffffffff81100420},
                  Frame{kKernelModule, 0xffffffff81100010}, lock, main};
    read_stack = {Frame{kKernelModule, 0xffffffff81100010}, read, main};
    // lock: 4 + 1 + 1 contentions, 1000 + 5000 + 3000 ns.
    store.AddSampled(lock_stack, 250);
    store.AddSampled(lock_stack, 5000);
    store.AddExact(lock_stack, 3000);
    // read: 3 short waits of 300 ns: 3 * 3.33 contentions, 3000 ns.
    for (int i = 0; i < 3; ++i) store.AddSampled(read_stack, 300);
  }

  Frame lock, read, main;
  Stack lock_stack, read_stack;
  OffCpuStore store;
};

OffCpuProfileMeta Meta() {
  OffCpuProfileMeta meta;
  meta.start_wall_ns = 1700000000000000000;
  meta.duration_ns = 5'000'000'000;
  meta.comments = {"pprofd off-CPU test", "rate 1000 ns\n2 stacks"};
  return meta;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Hex(uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

std::string FunctionName(const Profile& profile, uint64_t location_id) {
  for (const auto& location : profile.location()) {
    if (location.id() != location_id || location.line_size() == 0) continue;
    uint64_t function_id = location.line(0).function_id();
    for (const auto& function : profile.function()) {
      if (function.id() == function_id) return profile.string_table(function.name());
    }
  }
  return "";
}

TEST_CASE("OffCpuStore: sampled events stand for rate/delay events, exact ones for one") {
  const Stack stack = {Frame{kFirstUserModule, 0x1000}};
  const Stack other = {Frame{kFirstUserModule, 0x2000}};

  SECTION("a short sampled event: rate/delay contentions, rate ns") {
    OffCpuStore store(kRate);
    store.AddSampled(stack, 250);
    REQUIRE(store.totals().size() == 1);
    CHECK(store.totals().at(stack).contentions == Approx(4.0));
    CHECK(store.totals().at(stack).delay_ns == Approx(1000.0));
  }
  SECTION("a sampled event at or above the rate counts once, with its delay") {
    OffCpuStore store(kRate);
    store.AddSampled(stack, 1000);
    store.AddSampled(stack, 7500);
    CHECK(store.totals().at(stack).contentions == Approx(2.0));
    CHECK(store.totals().at(stack).delay_ns == Approx(8500.0));
  }
  SECTION("exact events count once, however short") {
    OffCpuStore store(kRate);
    store.AddExact(stack, 250);
    store.AddExact(stack, 0);
    CHECK(store.totals().at(stack).contentions == Approx(2.0));
    CHECK(store.totals().at(stack).delay_ns == Approx(250.0));
  }
  SECTION("a sampled event of 0 ns counts as 1 ns, as in Go") {
    OffCpuStore store(kRate);
    store.AddSampled(stack, 0);
    CHECK(store.totals().at(stack).contentions == Approx(1000.0));
    CHECK(store.totals().at(stack).delay_ns == Approx(1000.0));
  }
  SECTION("rate 0: every event recorded, no scaling") {
    OffCpuStore store(0);
    store.AddSampled(stack, 250);
    store.AddSampled(other, 3);
    CHECK(store.totals().at(stack).contentions == Approx(1.0));
    CHECK(store.totals().at(stack).delay_ns == Approx(250.0));
    CHECK(store.totals().at(other).delay_ns == Approx(3.0));
  }
  SECTION("stacks are kept apart and the estimates are unbiased on average") {
    // Simulate Go's sampling of 100000 events of 100 ns at a 1000 ns rate: about one in ten is
    // recorded and the estimate comes back to the truth.
    OffCpuStore store(kRate);
    uint64_t state = 12345;
    for (int i = 0; i < 100000; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      if ((state >> 33) % kRate < 100) store.AddSampled(stack, 100);
      store.AddExact(other, 100);
    }
    CHECK(store.totals().at(other).contentions == Approx(100000.0));
    CHECK(store.totals().at(stack).contentions == Approx(100000.0).epsilon(0.05));
    CHECK(store.totals().at(stack).delay_ns == Approx(1e7).epsilon(0.05));
  }
}

TEST_CASE("Off-CPU profile: Go's block profile types and rounded estimates") {
  ThisProcess process(kKallsyms);
  Workload workload(process);
  proto::ProfileBuilder builder =
      BuildOffCpuProfile(workload.store, process.symbolizer, process.MainModule(), Meta());
  REQUIRE(builder.status().ok());
  const Profile& profile = builder.profile();
  CHECK(testing::CheckProfileInvariants(profile).empty());

  REQUIRE(profile.sample_type_size() == 2);
  CHECK(profile.string_table(profile.sample_type(0).type()) == "contentions");
  CHECK(profile.string_table(profile.sample_type(0).unit()) == "count");
  CHECK(profile.string_table(profile.sample_type(1).type()) == "delay");
  CHECK(profile.string_table(profile.sample_type(1).unit()) == "nanoseconds");
  CHECK(profile.string_table(profile.period_type().type()) == "contentions");
  CHECK(profile.string_table(profile.period_type().unit()) == "count");
  CHECK(profile.period() == 1);
  CHECK(profile.time_nanos() == 1700000000000000000);
  CHECK(profile.duration_nanos() == 5'000'000'000);
  REQUIRE(profile.comment_size() == 2);
  CHECK(profile.string_table(profile.comment(1)) == "rate 1000 ns\n2 stacks");
  char exe[4096] = {};
  REQUIRE(::readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0);
  CHECK(profile.string_table(profile.mapping(0).filename()) == exe);

  // Largest delay first; 10 contentions from 3 * 3.33.
  REQUIRE(profile.sample_size() == 2);
  const auto& lock = profile.sample(0);
  CHECK(std::vector<int64_t>(lock.value().begin(), lock.value().end()) ==
        std::vector<int64_t>{6, 9000});
  REQUIRE(lock.location_id_size() == 4);
  CHECK(FunctionName(profile, lock.location_id(0)) == "futex_wait_queue");
  CHECK(FunctionName(profile, lock.location_id(1)) == "schedule");
  CHECK(FunctionName(profile, lock.location_id(2)) == "OffCpuTestLock");
  CHECK(FunctionName(profile, lock.location_id(3)) == "OffCpuTestMain");
  const auto& read = profile.sample(1);
  CHECK(std::vector<int64_t>(read.value().begin(), read.value().end()) ==
        std::vector<int64_t>{10, 3000});
  REQUIRE(read.location_id_size() == 3);
  CHECK(FunctionName(profile, read.location_id(0)) == "schedule");
  CHECK(FunctionName(profile, read.location_id(1)) == "OffCpuTestRead");
}

TEST_CASE("Off-CPU text: Go's legacy contention form") {
  ThisProcess process(kKallsyms);
  Workload workload(process);
  const std::string text = OffCpuProfileText(workload.store, process.symbolizer, Meta());
  INFO(text);
  std::istringstream stream(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  REQUIRE(lines.size() >= 13);
  CHECK(lines[0] == "--- contention:");
  CHECK(lines[1] == "cycles/second=1000000000");
  CHECK(lines[2] == "9000 6 @ " + Hex(0xffffffff81100421) + " " + Hex(0xffffffff81100011) + " " +
                        Hex(workload.lock.address + 1) + " " + Hex(workload.main.address + 1));
  CHECK(lines[3] == "#\t0xffffffff81100420\tfutex_wait_queue");
  CHECK(lines[4] == "#\t0xffffffff81100010\tschedule");
  CHECK(lines[5].rfind("#\t" + Hex(workload.lock.address) + "\tOffCpuTestLock+0x0\t", 0) == 0);
  CHECK(std::regex_search(lines[5], std::regex(R"(offcpu_profile_writer_test\.cpp:\d+$)")));
  CHECK(lines[6].rfind("#\t" + Hex(workload.main.address) + "\tOffCpuTestMain+0x0\t", 0) == 0);
  CHECK(lines[7].empty());
  CHECK(lines[8] == "3000 10 @ " + Hex(0xffffffff81100011) + " " + Hex(workload.read.address + 1) +
                        " " + Hex(workload.main.address + 1));
  CHECK(Contains(text, "\n\n\n# pprofd\n# pprofd off-CPU test\n# rate 1000 ns 2 stacks\n"));
  CHECK(text.back() == '\n');

  SECTION("an empty store gives the header and the comments") {
    OffCpuStore empty(kRate);
    CHECK(OffCpuProfileText(empty, process.symbolizer, Meta()) ==
          "--- contention:\ncycles/second=1000000000\n\n# pprofd\n# pprofd off-CPU test\n"
          "# rate 1000 ns 2 stacks\n");
  }
}

TEST_CASE("go tool pprof reads the off-CPU profiles", "[go]") {
  testing::GoTool go;
  if (!go.ok()) FAIL("`go` not found in PATH; install golang-go to run the pprof client");
  ThisProcess process(kKallsyms);
  Workload workload(process);
  proto::ProfileBuilder builder =
      BuildOffCpuProfile(workload.store, process.symbolizer, process.MainModule(), Meta());
  const auto profile_file = go.WriteFile("block.pb.gz", builder.SerializeGzipped());
  const auto text_file =
      go.WriteFile("block.txt", OffCpuProfileText(workload.store, process.symbolizer, Meta()));

  testing::CommandResult profile_raw = go.Pprof("-raw", profile_file);
  INFO(profile_raw.output);
  REQUIRE(profile_raw.exit_code == 0);
  CHECK(Contains(profile_raw.output, "PeriodType: contentions count"));
  CHECK(Contains(profile_raw.output, "contentions/count delay/nanoseconds"));
  CHECK(Contains(profile_raw.output, "OffCpuTestLock"));
  CHECK(Contains(profile_raw.output, "futex_wait_queue"));
  CHECK(Contains(profile_raw.output, "pprofd off-CPU test"));

  testing::CommandResult text_raw = go.Pprof("-raw", text_file);
  INFO(text_raw.output);
  REQUIRE(text_raw.exit_code == 0);
  CHECK(Contains(text_raw.output, "PeriodType: contentions count"));
  CHECK(Contains(text_raw.output, "contentions/count delay/nanoseconds"));
  // The legacy parser's values, after its cycles-to-nanoseconds conversion, are ours.
  const std::vector<std::vector<int64_t>> expected = {{6, 9000}, {10, 3000}};
  CHECK(RawSampleValues(profile_raw.output) == expected);
  CHECK(RawSampleValues(text_raw.output) == expected);

  // And pprof's totals agree.
  for (const char* index : {"contentions", "delay"}) {
    testing::CommandResult text_top =
        go.Pprof(std::string("-top -sample_index=") + index, text_file);
    testing::CommandResult profile_top =
        go.Pprof(std::string("-top -sample_index=") + index, profile_file);
    INFO(text_top.output);
    INFO(profile_top.output);
    REQUIRE(text_top.exit_code == 0);
    REQUIRE(profile_top.exit_code == 0);
    static const std::regex kTotal(R"(of (\S+) total)");
    std::smatch text_total, profile_total;
    REQUIRE(std::regex_search(text_top.output, text_total, kTotal));
    REQUIRE(std::regex_search(profile_top.output, profile_total, kTotal));
    CHECK(text_total[1].str() == profile_total[1].str());
  }
}

}  // namespace
}  // namespace pprofd::profiles
