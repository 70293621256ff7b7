// The heap profile writers on real frames of this very process (so symbolization is real): the
// pprof form checked against pprof's invariants and read back by the real `go tool pprof`, and
// Go's legacy text form parsed by pprof's legacy heap parser.
#include "agent/kinds/heap/heap_profile_writer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "agent/kinds/heap/heap_scaling.h"
#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/unwinder.h"
#include "tests/proto/pprof_invariants.h"
#include "tests/support/go_tool.h"
#include "tests/support/this_process.h"

extern "C" __attribute__((noinline)) int HeapTestAllocSite(int x) { return x * 5 + 3; }
extern "C" __attribute__((noinline)) int HeapTestCaller(int x) { return HeapTestAllocSite(x) + 4; }

namespace pprofd::profiles {
namespace {

using perftools::profiles::Profile;
using testing::ThisProcess;

constexpr int64_t kRate = 4096;

// The records every test below writes, through a real HeapStore.
struct Workload {
  explicit Workload(ThisProcess& process) {
    site = process.FrameAt(reinterpret_cast<const void*>(&HeapTestAllocSite));
    caller = process.FrameAt(reinterpret_cast<const void*>(&HeapTestCaller));
    operator_new = process.Symbol("_Znwm");
    malloc = process.Symbol("malloc");
    // C++: operator new on top, then the allocation site.
    via_new = store.stacks().InternStack({operator_new, site, caller});
    via_malloc = store.stacks().InternStack({malloc, caller});
    // Only the allocator was unwound: its frame stays.
    only_malloc = store.stacks().InternStack({malloc});

    for (uint64_t id = 1; id <= 6; ++id) store.RecordAlloc(id, via_new, 1000, true);
    store.RecordAlloc(7, via_new, 1000, false);
    store.RecordFree(1);
    store.RecordFree(2);
    for (uint64_t id = 10; id <= 12; ++id) store.RecordAlloc(id, via_new, 64, true);
    for (uint64_t id = 10; id <= 12; ++id) store.RecordFree(id);
    store.RecordAlloc(20, via_malloc, 1 << 20, true);
    store.RecordAlloc(21, via_malloc, 1 << 20, true);
    store.RecordAlloc(30, only_malloc, 16, true);
    records = store.Snapshot();
  }

  Frame site, caller, operator_new, malloc;
  uint32_t via_new = 0, via_malloc = 0, only_malloc = 0;
  HeapStore store;
  std::vector<HeapRecord> records;
};

HeapProfileMeta Meta(const std::string& default_sample_type) {
  HeapProfileMeta meta;
  meta.rate_bytes = kRate;
  meta.default_sample_type = default_sample_type;
  meta.time_wall_ns = 1700000000000000000;
  meta.comments = {"pprofd heap test", "second comment"};
  return meta;
}

const perftools::profiles::Function* FunctionOf(const Profile& profile, uint64_t location_id) {
  for (const auto& location : profile.location()) {
    if (location.id() != location_id || location.line_size() == 0) continue;
    uint64_t function_id = location.line(location.line_size() - 1).function_id();
    for (const auto& function : profile.function()) {
      if (function.id() == function_id) return &function;
    }
  }
  return nullptr;
}

int64_t BytesLabel(const Profile& profile, const perftools::profiles::Sample& sample) {
  for (const auto& label : sample.label()) {
    if (profile.string_table(label.key()) == "bytes") {
      CHECK(label.num_unit() == 0);
      return label.num();
    }
  }
  return -1;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Hex(uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

// The values of every sample in `pprof -raw` output, in no particular order.
std::multiset<std::vector<int64_t>> RawSampleMultiset(const std::string& raw) {
  const std::vector<std::vector<int64_t>> values = testing::RawSampleValues(raw);
  return {values.begin(), values.end()};
}

TEST_CASE("Leading allocator frames are dropped, never the whole stack") {
  ThisProcess process;
  Workload workload(process);
  const Stack& via_new = workload.store.stacks().stack(workload.via_new);
  CHECK(LeadingAllocatorFrames(via_new, process.symbolizer) == 1);
  CHECK(LeadingAllocatorFrames(workload.store.stacks().stack(workload.via_malloc),
                               process.symbolizer) == 1);
  CHECK(LeadingAllocatorFrames(workload.store.stacks().stack(workload.only_malloc),
                               process.symbolizer) == 0);
  // operator new calls malloc: both go.
  Stack nested = {workload.malloc, workload.operator_new, workload.site, workload.caller};
  CHECK(LeadingAllocatorFrames(nested, process.symbolizer) == 2);
  // Only leading frames: an allocator frame below the site stays.
  Stack inner = {workload.site, workload.malloc, workload.caller};
  CHECK(LeadingAllocatorFrames(inner, process.symbolizer) == 0);
  Stack markers = {Frame{kMarkerModule, static_cast<uint64_t>(Marker::kUnwindTruncated)}};
  CHECK(LeadingAllocatorFrames(markers, process.symbolizer) == 0);

  // Every allocator entry point of this process's libc and libstdc++, by whatever name their
  // symbol tables give the code.
  for (const char* name :
       {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t",
        "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
        "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t"}) {
    Stack stack = {process.Symbol(name), workload.caller};
    const auto& lines = process.symbolizer.Lines(stack[0]);
    INFO(name << " symbolized as " << (lines.empty() ? "nothing" : lines.back().system_name));
    CHECK(LeadingAllocatorFrames(stack, process.symbolizer) == 1);
  }

  CHECK(IsAllocatorFunction("_Znwm"));
  CHECK(IsAllocatorFunction("__GI___libc_malloc"));
  CHECK(IsAllocatorFunction("_ZnamSt11align_val_tRKSt9nothrow_t"));
  CHECK(IsAllocatorFunction("malloc"));
  CHECK(IsAllocatorFunction("__libc_malloc"));
  CHECK_FALSE(IsAllocatorFunction("strdup"));  // a real allocation site
  CHECK_FALSE(IsAllocatorFunction("HeapTestAllocSite"));
  CHECK_FALSE(IsAllocatorFunction(""));
}

TEST_CASE("Heap profile: Go's sample types, scaled values, size labels") {
  ThisProcess process;
  Workload workload(process);
  proto::ProfileBuilder builder =
      BuildHeapProfile(workload.records, workload.store.stacks(), process.symbolizer,
                       process.MainModule(), Meta(""));
  REQUIRE(builder.status().ok());
  const Profile& profile = builder.profile();
  CHECK(testing::CheckProfileInvariants(profile).empty());

  REQUIRE(profile.sample_type_size() == 4);
  const std::vector<std::pair<std::string, std::string>> types = {{"alloc_objects", "count"},
                                                                  {"alloc_space", "bytes"},
                                                                  {"inuse_objects", "count"},
                                                                  {"inuse_space", "bytes"}};
  for (int i = 0; i < 4; ++i) {
    CHECK(profile.string_table(profile.sample_type(i).type()) == types[i].first);
    CHECK(profile.string_table(profile.sample_type(i).unit()) == types[i].second);
  }
  CHECK(profile.string_table(profile.period_type().type()) == "space");
  CHECK(profile.string_table(profile.period_type().unit()) == "bytes");
  CHECK(profile.period() == kRate);
  CHECK(profile.default_sample_type() == 0);
  CHECK(profile.time_nanos() == 1700000000000000000);
  REQUIRE(profile.comment_size() == 2);
  CHECK(profile.string_table(profile.comment(0)) == "pprofd heap test");
  char exe[4096] = {};
  REQUIRE(::readlink("/proc/self/exe", exe, sizeof(exe) - 1) > 0);
  REQUIRE(profile.mapping_size() >= 2);
  CHECK(profile.string_table(profile.mapping(0).filename()) == exe);

  // One sample per (stack, size) record, keyed here by leaf function and size.
  std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> samples;
  for (const auto& sample : profile.sample()) {
    REQUIRE(sample.location_id_size() > 0);
    const auto* leaf = FunctionOf(profile, sample.location_id(0));
    REQUIRE(leaf != nullptr);
    std::string name = profile.string_table(leaf->name());
    // The allocator-only stack keeps its frame, whichever alias names it.
    if (IsAllocatorFunction(profile.string_table(leaf->system_name()))) {
      CHECK(sample.location_id_size() == 1);
      name = "[allocator]";
    }
    samples[{name, BytesLabel(profile, sample)}] =
        std::vector<int64_t>(sample.value().begin(), sample.value().end());
    // No allocator frame survives above the site.
    for (int i = 0; name != "[allocator]" && i < sample.location_id_size(); ++i) {
      const auto* function = FunctionOf(profile, sample.location_id(i));
      REQUIRE(function != nullptr);
      CHECK_FALSE(IsAllocatorFunction(profile.string_table(function->system_name())));
    }
  }
  auto values = [](ScaledCounts alloc, ScaledCounts inuse) {
    return std::vector<int64_t>{alloc.count, alloc.bytes, inuse.count, inuse.bytes};
  };
  CHECK(samples.size() == 4);
  // 7 allocated (one untracked), 2 freed: 4 in use.
  CHECK(samples[{"HeapTestAllocSite", 1000}] ==
        values(ScaleHeapSample(7, 7000, kRate), ScaleHeapSample(4, 4000, kRate)));
  // 1000-byte objects at a 4096 rate: scale 1/(1-exp(-1000/4096)) = 4.616...
  CHECK(samples[{"HeapTestAllocSite", 1000}][3] == 18465);
  CHECK(samples[{"HeapTestAllocSite", 64}] ==
        values(ScaleHeapSample(3, 192, kRate), ScaledCounts{0, 0}));
  CHECK(samples[{"HeapTestCaller", 1 << 20}] ==
        std::vector<int64_t>{2, 2 << 20, 2, 2 << 20});  // far above the rate: scale 1
  CHECK(samples[{"[allocator]", 16}] ==
        values(ScaleHeapSample(1, 16, kRate), ScaleHeapSample(1, 16, kRate)));
}

TEST_CASE("Heap profile: allocs default type, delta negatives, empty records") {
  ThisProcess process;
  Workload workload(process);

  SECTION("allocs sets default_sample_type") {
    proto::ProfileBuilder builder =
        BuildHeapProfile(workload.records, workload.store.stacks(), process.symbolizer,
                         process.MainModule(), Meta("alloc_space"));
    const Profile& profile = builder.profile();
    CHECK(testing::CheckProfileInvariants(profile).empty());
    CHECK(profile.string_table(profile.default_sample_type()) == "alloc_space");
  }

  SECTION("negative in-use of a delta keeps its sign, scaled by magnitude") {
    std::vector<HeapRecord> earlier = workload.store.Snapshot();
    workload.store.RecordFree(3);
    workload.store.RecordFree(4);
    workload.store.RecordFree(5);
    workload.store.RecordAlloc(40, workload.via_new, 1000, true);
    std::vector<HeapRecord> delta = HeapStore::Delta(earlier, workload.store.Snapshot());
    REQUIRE(delta.size() == 1);
    CHECK(delta[0].inuse_objects() == -2);
    HeapProfileMeta meta = Meta("");
    meta.duration_ns = 30000000000;
    proto::ProfileBuilder builder = BuildHeapProfile(
        delta, workload.store.stacks(), process.symbolizer, process.MainModule(), meta);
    const Profile& profile = builder.profile();
    CHECK(testing::CheckProfileInvariants(profile).empty());
    CHECK(profile.duration_nanos() == 30000000000);
    REQUIRE(profile.sample_size() == 1);
    const ScaledCounts alloc = ScaleHeapSample(1, 1000, kRate);
    const ScaledCounts freed = ScaleHeapSample(2, 2000, kRate);
    CHECK(
        std::vector<int64_t>(profile.sample(0).value().begin(), profile.sample(0).value().end()) ==
        std::vector<int64_t>{alloc.count, alloc.bytes, -freed.count, -freed.bytes});
  }

  SECTION("records whose four values are zero are left out") {
    HeapRecord nothing;  // e.g. a Delta of an unchanged record
    nothing.stack_id = workload.via_new;
    nothing.object_size = 64;
    HeapRecord zero_bytes;  // malloc(0): counted, but Go's estimator makes it zero
    zero_bytes.stack_id = workload.via_malloc;
    zero_bytes.object_size = 0;
    zero_bytes.allocs = 5;
    HeapRecord one;
    one.stack_id = workload.via_malloc;
    one.object_size = 8;
    one.allocs = 1;
    proto::ProfileBuilder builder =
        BuildHeapProfile({nothing, zero_bytes, one}, workload.store.stacks(), process.symbolizer,
                         process.MainModule(), Meta(""));
    const Profile& profile = builder.profile();
    CHECK(testing::CheckProfileInvariants(profile).empty());
    REQUIRE(profile.sample_size() == 1);
    CHECK(BytesLabel(profile, profile.sample(0)) == 8);
    // The text keeps Go's raw counts: the malloc(0) record is there, the empty one is not.
    const std::string text = HeapProfileText({nothing, zero_bytes, one}, workload.store.stacks(),
                                             process.symbolizer, Meta(""));
    CHECK(Contains(text, "\n5: 0 [5: 0] @ "));
    CHECK(Contains(text, "\n1: 8 [1: 8] @ "));
    CHECK_FALSE(Contains(text, "[0: 0] @ 0x"));
  }
}

TEST_CASE("Heap profile text: Go's legacy ?debug=1 form") {
  ThisProcess process;
  Workload workload(process);
  const std::string text =
      HeapProfileText(workload.records, workload.store.stacks(), process.symbolizer, Meta(""));
  INFO(text);
  std::istringstream stream(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  REQUIRE(lines.size() > 10);

  // Raw sampled counts: in use 4+0+2+1 objects, allocated 7+3+2+1.
  CHECK(lines[0] == "heap profile: 7: 2101168 [13: 2104360] @ heap/8192");

  // Records by in-use bytes, largest first; each "@" address is the frame's address + 1.
  std::vector<std::string> records;
  for (const std::string& line : lines) {
    if (!line.empty() && line[0] != '#' && line.rfind("heap profile:", 0) != 0) {
      records.push_back(line);
    }
  }
  REQUIRE(records.size() == 4);
  CHECK(records[0] == "2: 2097152 [2: 2097152] @ " + Hex(workload.caller.address + 1));
  CHECK(records[1] == "4: 4000 [7: 7000] @ " + Hex(workload.site.address + 1) + " " +
                          Hex(workload.caller.address + 1));
  CHECK(records[2] == "1: 16 [1: 16] @ " + Hex(workload.malloc.address + 1));
  CHECK(records[3] == "0: 0 [3: 192] @ " + Hex(workload.site.address + 1) + " " +
                          Hex(workload.caller.address + 1));

  // The frames of the first record, with function, file and line.
  REQUIRE(lines[1] == records[0]);
  CHECK(lines[2].rfind("#\t" + Hex(workload.caller.address) + "\tHeapTestCaller+0x0\t", 0) == 0);
  CHECK(std::regex_search(lines[2], std::regex(R"(heap_profile_writer_test\.cpp:\d+$)")));
  CHECK(lines[3].empty());

  // The comments replace Go's runtime.MemStats block.
  CHECK(Contains(text, "\n\n# pprofd\n# pprofd heap test\n# second comment\n"));
  CHECK(text.back() == '\n');
}

TEST_CASE("Heap profile text of nothing is a header and the comments") {
  ThisProcess process;
  HeapStore store;
  HeapProfileMeta meta = Meta("");
  meta.comments = {"line one\nline two"};
  CHECK(HeapProfileText({}, store.stacks(), process.symbolizer, meta) ==
        "heap profile: 0: 0 [0: 0] @ heap/8192\n\n# pprofd\n# line one line two\n");
}

TEST_CASE("go tool pprof reads the heap profiles", "[go]") {
  testing::GoTool go;
  if (!go.ok()) FAIL("`go` not found in PATH; install golang-go to run the pprof client");
  ThisProcess process;
  Workload workload(process);
  proto::ProfileBuilder heap = BuildHeapProfile(workload.records, workload.store.stacks(),
                                                process.symbolizer, process.MainModule(), Meta(""));
  proto::ProfileBuilder allocs =
      BuildHeapProfile(workload.records, workload.store.stacks(), process.symbolizer,
                       process.MainModule(), Meta("alloc_space"));
  const auto heap_file = go.WriteFile("heap.pb.gz", heap.SerializeGzipped());
  const auto allocs_file = go.WriteFile("allocs.pb.gz", allocs.SerializeGzipped());
  const auto text_file = go.WriteFile(
      "heap.txt",
      HeapProfileText(workload.records, workload.store.stacks(), process.symbolizer, Meta("")));

  SECTION("-raw shows the types, period and scaled values") {
    testing::CommandResult raw = go.Pprof("-raw", heap_file);
    INFO(raw.output);
    REQUIRE(raw.exit_code == 0);
    CHECK(Contains(raw.output, "PeriodType: space bytes"));
    CHECK(Contains(raw.output, "Period: 4096"));
    CHECK(Contains(raw.output,
                   "alloc_objects/count alloc_space/bytes inuse_objects/count "
                   "inuse_space/bytes"));
    CHECK(Contains(raw.output, "HeapTestAllocSite"));
    CHECK(Contains(raw.output, "pprofd heap test"));
    const ScaledCounts alloc = ScaleHeapSample(7, 7000, kRate);
    const ScaledCounts inuse = ScaleHeapSample(4, 4000, kRate);
    CHECK(
        RawSampleMultiset(raw.output).count({alloc.count, alloc.bytes, inuse.count, inuse.bytes}) ==
        1);
  }

  SECTION("-top shows inuse_space for /heap, alloc_space for /allocs") {
    testing::CommandResult heap_top = go.Pprof("-top", heap_file);
    INFO(heap_top.output);
    REQUIRE(heap_top.exit_code == 0);
    CHECK(Contains(heap_top.output, "Type: inuse_space"));
    testing::CommandResult allocs_top = go.Pprof("-top", allocs_file);
    INFO(allocs_top.output);
    REQUIRE(allocs_top.exit_code == 0);
    CHECK(Contains(allocs_top.output, "Type: alloc_space"));
    // An explicit -sample_index still wins.
    testing::CommandResult objects = go.Pprof("-top -sample_index=alloc_objects", allocs_file);
    REQUIRE(objects.exit_code == 0);
    CHECK(Contains(objects.output, "Type: alloc_objects"));
  }

  SECTION("-tags shows the object sizes") {
    testing::CommandResult tags = go.Pprof("-tags -sample_index=alloc_objects", heap_file);
    INFO(tags.output);
    REQUIRE(tags.exit_code == 0);
    CHECK(Contains(tags.output, "bytes:"));
    CHECK(Contains(tags.output, "1000B"));
    CHECK(Contains(tags.output, "1MB"));
    int64_t alloc_objects = 0;
    for (const auto& sample : heap.profile().sample()) alloc_objects += sample.value(0);
    CHECK(Contains(tags.output, "bytes: Total " + std::to_string(alloc_objects) + ".0"));
  }

  SECTION("the debug=1 text parses to the same scaled values") {
    testing::CommandResult text_raw = go.Pprof("-raw", text_file);
    INFO(text_raw.output);
    REQUIRE(text_raw.exit_code == 0);
    CHECK(Contains(text_raw.output, "PeriodType: space bytes"));
    CHECK(Contains(text_raw.output, "Period: 4096"));
    testing::CommandResult heap_raw = go.Pprof("-raw", heap_file);
    REQUIRE(heap_raw.exit_code == 0);
    // pprof scales the text's raw counts with Go's estimator: the same numbers as ours.
    std::multiset<std::vector<int64_t>> from_text = RawSampleMultiset(text_raw.output);
    CHECK(from_text.size() == 4);
    CHECK(from_text == RawSampleMultiset(heap_raw.output));

    testing::CommandResult text_top = go.Pprof("-top -sample_index=inuse_space", text_file);
    INFO(text_top.output);
    REQUIRE(text_top.exit_code == 0);
    testing::CommandResult heap_top = go.Pprof("-top -sample_index=inuse_space", heap_file);
    REQUIRE(heap_top.exit_code == 0);
    std::smatch text_total, heap_total;
    static const std::regex kTotal(R"(of ([0-9.]+[kMG]?B) total)");
    REQUIRE(std::regex_search(text_top.output, text_total, kTotal));
    REQUIRE(std::regex_search(heap_top.output, heap_total, kTotal));
    CHECK(text_total[1].str() == heap_total[1].str());
  }
}

}  // namespace
}  // namespace pprofd::profiles
