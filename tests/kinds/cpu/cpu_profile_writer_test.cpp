// The CPU profile assembly on real frames of this very process: normalized stacks are turned into
// a profile that keeps every invariant of DESIGN.md section 4.
#include "agent/kinds/cpu/cpu_profile_writer.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>

#include "agent/kinds/cpu/sample_store.h"
#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/unwinder.h"
#include "tests/proto/pprof_invariants.h"

extern "C" __attribute__((noinline)) int WriterTestLeaf(int x) { return x * 3 + 1; }
extern "C" __attribute__((noinline)) int WriterTestCaller(int x) { return WriterTestLeaf(x) + 2; }

namespace pprofd::profiles {
namespace {

uint64_t AddressOf(int (*function)(int), uint64_t offset) {
  return reinterpret_cast<uint64_t>(function) + offset;
}

std::string FunctionName(const perftools::profiles::Profile& profile, uint64_t location_id) {
  for (const auto& location : profile.location()) {
    if (location.id() != location_id || location.line_size() == 0) continue;
    uint64_t function_id = location.line(location.line_size() - 1).function_id();
    for (const auto& function : profile.function()) {
      if (function.id() == function_id) return profile.string_table(function.name());
    }
  }
  return "";
}

}  // namespace

TEST_CASE("CPU profile from normalized stacks of this process") {
  symbolizer::ElfCache cache;
  symbolizer::AddressSpace address_space(::getpid(), &cache);
  REQUIRE(address_space.Refresh().ok());
  symbolizer::Unwinder unwinder(&address_space);
  StackNormalizer normalizer(&address_space, &unwinder);
  FrameSymbolizer symbolizer(&normalizer, nullptr);
  SampleStore store;

  const uint64_t leaf = AddressOf(WriterTestLeaf, 1);
  const uint64_t caller = AddressOf(WriterTestCaller, 1);
  auto module = normalizer.ModuleOf(leaf);
  REQUIRE(module.has_value());
  Stack user_stack = {Frame{*module, leaf}, Frame{*module, caller}};
  Stack with_kernel = {Frame{kKernelModule, 0xffffffff81000000ull}, Frame{*module, leaf},
                       Frame{*module, caller},
                       Frame{kMarkerModule, static_cast<uint64_t>(Marker::kUnwindTruncated)}};
  const uint32_t stack_a = store.InternStack(user_stack);
  const uint32_t stack_b = store.InternStack(with_kernel);
  CHECK(store.InternStack(user_stack) == stack_a);
  store.SetThreadName(7, "worker");
  store.SetThreadName(8, "io");
  for (int i = 0; i < 5; ++i) store.Add(StoredSample{1000 + i, 7, stack_a, 10101010});
  store.Add(StoredSample{1100, 8, stack_a, 10101010});
  store.Add(StoredSample{1200, 8, stack_b, 10101010});
  store.Add(StoredSample{99999, 8, stack_b, 10101010});  // outside the window

  std::vector<StoredSample> window = store.Window(1000, 2000);
  REQUIRE(window.size() == 7);
  CpuProfileMeta meta;
  meta.hz = 99;
  meta.start_wall_ns = 1700000000000000000;
  meta.duration_ns = 5000000000;
  meta.comments = {"a comment"};
  proto::ProfileBuilder builder = BuildCpuProfile(window, store, symbolizer, module, meta);
  const auto& profile = builder.profile();

  CHECK(testing::CheckProfileInvariants(profile).empty());
  REQUIRE(profile.sample_type_size() == 2);
  CHECK(profile.string_table(profile.sample_type(0).type()) == "samples");
  CHECK(profile.string_table(profile.sample_type(1).unit()) == "nanoseconds");
  CHECK(profile.period() == 1000000000 / 99);
  CHECK(profile.duration_nanos() == 5000000000);
  REQUIRE(profile.mapping_size() >= 2);
  char exe[4096] = {};
  REQUIRE(::readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0);
  CHECK(profile.string_table(profile.mapping(0).filename()) == exe);
  CHECK(profile.mapping(0).has_functions());

  // (stack, thread) pairs are aggregated: 5 samples of thread 7 become one pprof sample.
  std::map<std::pair<std::string, int64_t>, int64_t> counts;  // (leaf function, tid) -> count
  for (const auto& sample : profile.sample()) {
    int64_t tid = -1;
    std::string thread_name;
    for (const auto& label : sample.label()) {
      if (profile.string_table(label.key()) == "thread_id") tid = label.num();
      if (profile.string_table(label.key()) == "thread_name") {
        thread_name = profile.string_table(label.str());
      }
    }
    CHECK(!thread_name.empty());
    counts[{FunctionName(profile, sample.location_id(0)), tid}] += sample.value(0);
    CHECK(sample.value(1) == sample.value(0) * 10101010);
  }
  CHECK(counts[{"WriterTestLeaf", 7}] == 5);
  CHECK(counts[{"WriterTestLeaf", 8}] == 1);
  CHECK(profile.sample_size() == 3);

  // The kernel-topped stack: kernel frame first, the marker last.
  bool saw_marker = false;
  for (const auto& sample : profile.sample()) {
    if (sample.location_id_size() != 4) continue;
    CHECK(FunctionName(profile, sample.location_id(1)) == "WriterTestLeaf");
    CHECK(FunctionName(profile, sample.location_id(2)) == "WriterTestCaller");
    CHECK(FunctionName(profile, sample.location_id(3)) == "[unwind: truncated]");
    saw_marker = true;
  }
  CHECK(saw_marker);

  // The symbol cache answers the second profile.
  const uint64_t hits_before = symbolizer.cache_hits();
  (void)BuildCpuProfile(window, store, symbolizer, module, meta);
  CHECK(symbolizer.cache_hits() > hits_before);
}

TEST_CASE("SampleStore drops old samples and forgets everything when empty") {
  SampleStore store;
  uint32_t id = store.InternStack({Frame{kUnknownModule, 42}});
  store.Add(StoredSample{10, 1, id, 1});
  store.Add(StoredSample{20, 1, id, 1});
  store.DropBefore(15);
  CHECK(store.sample_count() == 1);
  CHECK(store.stack_count() == 1);
  store.DropBefore(100);
  CHECK(store.sample_count() == 0);
  CHECK(store.stack_count() == 0);
}

}  // namespace pprofd::profiles
