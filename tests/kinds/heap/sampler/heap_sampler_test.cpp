// Real uprobes on the glibc allocator of a workload process (heap_probe_target), in both attach
// modes: exact event streams at rate 1, the nesting guard, live-map overflow, Detach, and the
// byte-sampled estimate at a larger rate.
#include "agent/kinds/heap/heap_sampler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/bpf_support/bpf_log.h"
#include "tests/kinds/heap/sampler/heap_test_support.h"

namespace pprofd::sampling {
namespace {

using testing::AllocatorLocation;
using testing::ProbeTarget;

struct AllocRecord {
  uint64_t id, address, size, ip, sp;
  uint32_t fn, tid, flags, stack_len;
  size_t order;
};
struct FreeRecord {
  uint64_t id, address, size;
  size_t order;
};
struct Collected {
  std::vector<AllocRecord> allocs;
  std::vector<FreeRecord> frees;
  size_t next_order = 0;
};

void DrainAll(HeapSampler& sampler, Collected& out) {
  auto on_alloc = [&](const RawHeapAlloc& raw) {
    const auto* e = raw.event;
    out.allocs.push_back(AllocRecord{e->header.alloc_id, e->header.address, e->header.size, e->ip,
                                     e->sp, e->fn, e->header.tid, e->flags, e->user_stack_len,
                                     out.next_order++});
  };
  auto on_free = [&](const RawHeapFree& raw) {
    const auto* e = raw.event;
    out.frees.push_back(
        FreeRecord{e->header.alloc_id, e->header.address, e->header.size, out.next_order++});
  };
  while (sampler.Drain(on_alloc, on_free) > 0) {
  }
}

struct Expected {
  std::string fn;
  uint64_t size;
  uint64_t address;
  std::string op;
};

std::vector<Expected> ParseAllocs(const std::vector<std::string>& lines) {
  std::vector<Expected> result;
  for (const std::string& line : lines) {
    std::istringstream fields(line);
    std::string kind, fn, address, op;
    uint64_t size = 0;
    fields >> kind;
    if (kind != "alloc") continue;
    fields >> fn >> size >> address >> op;
    result.push_back(Expected{fn, size, std::stoull(address, nullptr, 16), op});
  }
  return result;
}

HeapSamplerOptions OptionsFor(const ProbeTarget& target, const AllocatorLocation& location,
                              bool classic, uint64_t rate) {
  HeapSamplerOptions options;
  options.target_pid = target.pid();
  options.module_path = location.module_path;
  options.probes = location.probes;
  options.rate_bytes = rate;
  options.force_classic = classic;
  options.seed = 42;
  return options;
}

std::unique_ptr<HeapSampler> MustCreate(const HeapSamplerOptions& options) {
  auto sampler = HeapSampler::Create(options);
  INFO(sampler.status().message());
  REQUIRE(sampler.ok());
  return std::move(*sampler);
}

}  // namespace

TEST_CASE("ExponentialIntervals have the mean and median of Exp(rate)", "[heap_sampler]") {
  for (uint64_t rate : {uint64_t{4096}, uint64_t{512 * 1024}, uint64_t{10'000'000}}) {
    std::vector<uint64_t> table = ExponentialIntervals(rate, 7);
    REQUIRE(table.size() == PPROFD_HEAP_INTERVALS);
    double mean = std::accumulate(table.begin(), table.end(), 0.0) / table.size();
    CHECK(std::abs(mean - rate) / rate < 0.005);
    std::sort(table.begin(), table.end());
    double median = (table[table.size() / 2 - 1] + table[table.size() / 2]) / 2.0;
    CHECK(std::abs(median - rate * std::log(2.0)) / rate < 0.005);
    CHECK(table.front() >= 1);
  }
  // Deterministic for a seed; the order differs between seeds, the values do not.
  CHECK(ExponentialIntervals(4096, 1) == ExponentialIntervals(4096, 1));
  CHECK(ExponentialIntervals(4096, 1) != ExponentialIntervals(4096, 2));
  std::vector<uint64_t> zeros(PPROFD_HEAP_INTERVALS, 0);
  CHECK(ExponentialIntervals(1, 3) == zeros);
  CHECK(ExponentialIntervals(0, 3) == zeros);
}

TEST_CASE("HeapSampler reports every allocator call at rate 1", "[heap_sampler][bpf]") {
  bpf_support::RouteLibbpfLogsToLogger();
  const bool classic = GENERATE(false, true);
  CAPTURE(classic);
  ProbeTarget target;
  AllocatorLocation location = testing::LocateGlibcAllocator(target.pid());
  REQUIRE(location.probes.size() == 10);
  auto sampler = MustCreate(OptionsFor(target, location, classic, 1));
  CHECK(sampler->mode() == (classic ? UprobeMode::kClassic : UprobeMode::kSession));
  REQUIRE(sampler->Attach().ok());
  REQUIRE(sampler->attached());

  std::vector<Expected> expected = ParseAllocs(target.Command("run"));
  Collected got;
  DrainAll(*sampler, got);

  // glibc's memalign is aligned_alloc: one probe, reported under the name probed first.
  const bool memalign_shared =
      location.entry_offsets.at("memalign") == location.entry_offsets.at("aligned_alloc");
  REQUIRE(expected.size() == 24);
  REQUIRE(got.allocs.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Expected& want = expected[i];
    const AllocRecord& have = got.allocs[i];
    INFO("call " << i << ": " << want.fn << "(" << want.size << ") in " << want.op);
    pprofd_alloc_fn fn = testing::FnByName(want.fn);
    if (fn == PPROFD_FN_MEMALIGN && memalign_shared) fn = PPROFD_FN_ALIGNED_ALLOC;
    CHECK(have.fn == fn);
    CHECK(have.size == want.size);
    CHECK(have.address == want.address);
    CHECK(have.tid == static_cast<uint32_t>(target.pid()));
    // The return address lies in the calling function, also after realloc(NULL, n)'s tail
    // jump into malloc.
    CHECK(target.Function(want.op).Contains(have.ip));
    CHECK(have.stack_len > 0);
    CHECK((have.flags & PPROFD_HEAP_NOT_TRACKED) == 0);
  }
  std::set<uint64_t> ids;
  for (const AllocRecord& alloc : got.allocs) ids.insert(alloc.id);
  CHECK(ids.size() == got.allocs.size());

  // Every block was freed (by free, by realloc moving it or by realloc(p, 0)): one free event
  // each, naming its allocation, after it in the ring.
  REQUIRE(got.frees.size() == got.allocs.size());
  for (const AllocRecord& alloc : got.allocs) {
    INFO("alloc id " << alloc.id << " size " << alloc.size);
    auto matches = std::count_if(got.frees.begin(), got.frees.end(),
                                 [&](const FreeRecord& f) { return f.id == alloc.id; });
    REQUIRE(matches == 1);
    auto it = std::find_if(got.frees.begin(), got.frees.end(),
                           [&](const FreeRecord& f) { return f.id == alloc.id; });
    CHECK(it->address == alloc.address);
    CHECK(it->size == alloc.size);
    CHECK(it->order > alloc.order);
  }

  auto stats = sampler->Stats();
  CHECK(stats[PPROFD_HEAP_STAT_CALLS] == expected.size());
  CHECK(stats[PPROFD_HEAP_STAT_SAMPLED] == expected.size());
  CHECK(stats[PPROFD_HEAP_STAT_FREES_MATCHED] == expected.size());
  CHECK(stats[PPROFD_HEAP_STAT_NESTED] >= 2);  // realloc(NULL) -> malloc, reallocarray -> realloc
  CHECK(stats[PPROFD_HEAP_STAT_LOST_ALLOC] == 0);
  CHECK(stats[PPROFD_HEAP_STAT_LOST_FREE] == 0);
  CHECK(stats[PPROFD_HEAP_STAT_FAILED] == 0);
  CHECK(stats[PPROFD_HEAP_STAT_LIVE_FULL] == 0);

  SECTION("allocations on another thread") {
    std::vector<std::string> lines = target.Command("thread");
    uint32_t tid = 0;
    for (const std::string& line : lines) {
      if (line.rfind("tid ", 0) == 0) tid = static_cast<uint32_t>(std::stoul(line.substr(4)));
    }
    REQUIRE(tid != 0);
    REQUIRE(tid != static_cast<uint32_t>(target.pid()));
    Collected thread_got;
    DrainAll(*sampler, thread_got);
    std::vector<Expected> thread_expected = ParseAllocs(lines);
    REQUIRE(thread_expected.size() == 5);
    std::vector<AllocRecord> found;
    for (const AllocRecord& alloc : thread_got.allocs) {
      if (alloc.tid == tid) found.push_back(alloc);
    }
    REQUIRE(found.size() == 5);
    for (size_t i = 0; i < found.size(); ++i) {
      CHECK(found[i].size == 777);
      CHECK(found[i].address == thread_expected[i].address);
      CHECK(target.Function("ThreadBody").Contains(found[i].ip));
    }
  }
}

TEST_CASE("HeapSampler flags allocations the full live map cannot track", "[heap_sampler][bpf]") {
  const bool classic = GENERATE(false, true);
  CAPTURE(classic);
  ProbeTarget target;
  AllocatorLocation location = testing::LocateGlibcAllocator(target.pid());
  HeapSamplerOptions options = OptionsFor(target, location, classic, 1);
  options.max_live = 4;
  auto sampler = MustCreate(options);
  REQUIRE(sampler->Attach().ok());
  target.Command("live 10 512");
  Collected got;
  DrainAll(*sampler, got);
  REQUIRE(got.allocs.size() == 10);
  for (size_t i = 0; i < got.allocs.size(); ++i) {
    INFO("allocation " << i);
    CHECK(((got.allocs[i].flags & PPROFD_HEAP_NOT_TRACKED) != 0) == (i >= 4));
  }
  CHECK(sampler->Stats()[PPROFD_HEAP_STAT_LIVE_FULL] == 6);
  target.Command("freelive");
  DrainAll(*sampler, got);
  REQUIRE(got.frees.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(got.frees[i].id == got.allocs[i].id);
}

TEST_CASE("HeapSampler Detach closes every link and forgets the live allocations",
          "[heap_sampler][bpf]") {
  const bool classic = GENERATE(false, true);
  CAPTURE(classic);
  ProbeTarget target;
  AllocatorLocation location = testing::LocateGlibcAllocator(target.pid());
  const int links_before = testing::CountBpfLinkFds();
  {
    auto sampler = MustCreate(OptionsFor(target, location, classic, 1));
    CHECK(testing::CountBpfLinkFds() == links_before);
    REQUIRE(sampler->Attach().ok());
    REQUIRE(sampler->Attach().ok());  // a second call does nothing
    const int attached_links = testing::CountBpfLinkFds() - links_before;
    // session: one session link and one free link; classic: entry + return per function, free.
    CHECK(attached_links == (classic ? 2 * 8 + 1 : 2));

    target.Command("live 5 512");
    Collected first;
    DrainAll(*sampler, first);
    REQUIRE(first.allocs.size() == 5);

    sampler->Detach();
    CHECK_FALSE(sampler->attached());
    CHECK(testing::CountBpfLinkFds() == links_before);
    // Unseen frees: without the reset the next allocations at these addresses would report
    // the old ones as freed.
    target.Command("freelive");
    Collected detached;
    DrainAll(*sampler, detached);
    CHECK(detached.allocs.empty());
    CHECK(detached.frees.empty());

    REQUIRE(sampler->Attach().ok());
    target.Command("live 5 512");
    Collected second;
    DrainAll(*sampler, second);
    REQUIRE(second.allocs.size() == 5);
    CHECK(second.frees.empty());
    size_t reused = 0;
    for (const AllocRecord& a : second.allocs) {
      for (const AllocRecord& b : first.allocs) reused += a.address == b.address;
    }
    CHECK(reused > 0);  // malloc handed the same blocks back: the check above meant something
    target.Command("freelive");
    DrainAll(*sampler, second);
    CHECK(second.frees.size() == 5);
    CHECK(testing::CountBpfLinkFds() == links_before + attached_links);
  }
  // Destruction detaches too.
  CHECK(testing::CountBpfLinkFds() == links_before);
}

TEST_CASE("HeapSampler byte sampling estimates the bytes allocated", "[heap_sampler][bpf]") {
  const bool classic = GENERATE(false, true);
  CAPTURE(classic);
  ProbeTarget target;
  AllocatorLocation location = testing::LocateGlibcAllocator(target.pid());
  constexpr uint64_t kRate = 4096;
  HeapSamplerOptions options = OptionsFor(target, location, classic, kRate);
  options.stack_bytes = 4096;
  options.seed = 0;
  auto sampler = MustCreate(options);
  REQUIRE(sampler->Attach().ok());
  const testing::Range churn = target.Function("OpChurn");
  double true_total = 0;
  double estimate = 0;
  size_t samples = 0;
  // Batches small enough for the ring buffer between drains (~500 samples each).
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<std::string> lines = target.Command("churn 2000");
    true_total += std::stod(lines.back().substr(5));
    Collected got;
    DrainAll(*sampler, got);
    for (const AllocRecord& alloc : got.allocs) {
      if (!churn.Contains(alloc.ip)) continue;
      // Go's scaling of a heap sample (runtime/pprof scaleHeapSample).
      double size = static_cast<double>(alloc.size);
      estimate += size / (1 - std::exp(-size / kRate));
      ++samples;
    }
  }
  CHECK(sampler->Stats()[PPROFD_HEAP_STAT_LOST_ALLOC] == 0);
  INFO("samples " << samples << " estimate " << estimate << " true " << true_total);
  // The estimator's standard deviation here is ~0.6% of the total: 4% is > 6 sigma.
  CHECK(std::abs(estimate - true_total) / true_total < 0.04);
  CHECK(samples > 5000);
}

TEST_CASE("HeapSampler rejects bad options with one-line errors", "[heap_sampler][bpf]") {
  ProbeTarget target;
  AllocatorLocation location = testing::LocateGlibcAllocator(target.pid());
  HeapSamplerOptions options = OptionsFor(target, location, false, 1);
  options.stack_bytes = 1000;
  auto bad_stack = HeapSampler::Create(options);
  REQUIRE_FALSE(bad_stack.ok());
  CHECK(bad_stack.status().message().find("stack size 1000") != std::string::npos);

  options = OptionsFor(target, location, false, 1);
  options.probes.clear();
  CHECK_FALSE(HeapSampler::Create(options).ok());

  for (bool classic : {false, true}) {
    options = OptionsFor(target, location, classic, 1);
    options.module_path = "/nonexistent/libc.so.6";
    auto sampler = MustCreate(options);
    Status status = sampler->Attach();
    REQUIRE_FALSE(status.ok());
    CHECK(status.message().find("/nonexistent/libc.so.6") != std::string::npos);
    CHECK(status.message().find('\n') == std::string::npos);
    CHECK_FALSE(sampler->attached());
  }
}

}  // namespace pprofd::sampling
