// The store /block and /mutex answer from when tracked from start-up (--block, --mutex): totals
// that only grow, a bound on distinct stacks with a visible overflow stack, and godeltaprof's
// "since the previous call" for /delta_block and /delta_mutex. Apart from BPF.
#include "agent/kinds/offcpu/cumulative_store.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

namespace pprofd::kinds::offcpu {
namespace {

constexpr uint64_t kRate = 1000000;  // 1 ms, --offcpu-rate's default

profiles::Stack StackOf(uint64_t leaf) {
  return {profiles::Frame{profiles::kFirstUserModule, leaf},
          profiles::Frame{profiles::kFirstUserModule, 0x1000}};
}

profiles::OffCpuTotals TotalsOf(const profiles::OffCpuStore& store, const profiles::Stack& stack) {
  auto it = store.totals().find(stack);
  return it == store.totals().end() ? profiles::OffCpuTotals{} : it->second;
}

TEST_CASE("Totals since start grow with every event and never decrease", "[cumulative_store]") {
  CumulativeOffCpuStore store(kRate, 64);
  std::mt19937_64 random(7);
  std::vector<profiles::OffCpuTotals> last(8);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t leaf = 0x2000 + random() % 8;
    const uint64_t delay = random() % 3'000'000;  // shorter and longer than the rate
    if (i % 5 == 0) {
      store.AddExact(StackOf(leaf), delay);
    } else {
      store.AddSampled(StackOf(leaf), delay);
    }
    for (uint64_t l = 0; l < 8; ++l) {
      const profiles::OffCpuTotals now = TotalsOf(store.since_start(), StackOf(0x2000 + l));
      // What the profile shows: values rounded as BuildOffCpuProfile rounds them.
      CHECK(std::llround(now.contentions) >= std::llround(last[l].contentions));
      CHECK(std::llround(now.delay_ns) >= std::llround(last[l].delay_ns));
      last[l] = now;
    }
  }
  CHECK(store.stacks() == 8);
  CHECK(store.overflow_events() == 0);
}

TEST_CASE("A sampled short wait is scaled as Go's block profile scales it", "[cumulative_store]") {
  CumulativeOffCpuStore store(kRate, 16);
  store.AddSampled(StackOf(0x2000), 250'000);    // a quarter of the rate: stands for 4 waits
  store.AddSampled(StackOf(0x2000), 5'000'000);  // longer than the rate: counts once, as is
  const profiles::OffCpuTotals totals = TotalsOf(store.since_start(), StackOf(0x2000));
  CHECK(totals.contentions == Approx(5));
  CHECK(totals.delay_ns == Approx(6'000'000));
}

TEST_CASE("Past its bound the store adds new stacks to one visible overflow stack",
          "[cumulative_store]") {
  CumulativeOffCpuStore store(kRate, 4);
  for (uint64_t leaf = 0; leaf < 10; ++leaf) store.AddExact(StackOf(0x2000 + leaf), 1'000'000);
  // Three stacks and the overflow stack: never more than the bound.
  CHECK(store.stacks() == 4);
  CHECK(store.overflow_events() == 7);
  const profiles::OffCpuTotals overflow =
      TotalsOf(store.since_start(), CumulativeOffCpuStore::OverflowStack());
  CHECK(overflow.contentions == Approx(7));
  CHECK(overflow.delay_ns == Approx(7'000'000));
  CHECK(profiles::MarkerName(profiles::Marker::kStoreOverflow).find("store full") !=
        std::string::npos);
  // A stack it already holds keeps counting on its own.
  store.AddExact(StackOf(0x2000), 1'000'000);
  CHECK(TotalsOf(store.since_start(), StackOf(0x2000)).contentions == Approx(2));
  CHECK(store.overflow_events() == 7);
  // Nothing is lost: the totals add up to every event.
  double contentions = 0;
  for (const auto& [stack, totals] : store.since_start().totals()) {
    contentions += totals.contentions;
  }
  CHECK(contentions == Approx(11));
}

TEST_CASE("The delta is what changed since the previous call, the first since start",
          "[cumulative_store]") {
  CumulativeOffCpuStore store(kRate, 16);
  store.AddExact(StackOf(0x2000), 2'000'000);
  store.AddExact(StackOf(0x3000), 3'000'000);

  profiles::OffCpuStore first = store.TakeDelta();
  CHECK(first.size() == 2);
  CHECK(TotalsOf(first, StackOf(0x2000)).delay_ns == Approx(2'000'000));

  // Nothing new: an empty delta, while the cumulative totals stay.
  CHECK(store.TakeDelta().size() == 0);
  CHECK(store.since_start().size() == 2);

  store.AddExact(StackOf(0x2000), 5'000'000);
  store.AddExact(StackOf(0x4000), 1'000'000);
  profiles::OffCpuStore second = store.TakeDelta();
  CHECK(second.size() == 2);  // the unchanged 0x3000 is left out
  CHECK(TotalsOf(second, StackOf(0x2000)).contentions == Approx(1));
  CHECK(TotalsOf(second, StackOf(0x2000)).delay_ns == Approx(5'000'000));
  CHECK(TotalsOf(second, StackOf(0x4000)).delay_ns == Approx(1'000'000));
  CHECK(TotalsOf(store.since_start(), StackOf(0x2000)).delay_ns == Approx(7'000'000));
}

TEST_CASE("The deltas add up to the cumulative totals", "[cumulative_store]") {
  CumulativeOffCpuStore store(kRate, 8);
  std::mt19937_64 random(11);
  double delta_sum = 0;
  for (int call = 0; call < 50; ++call) {
    for (int i = 0; i < 40; ++i) {
      store.AddSampled(StackOf(0x2000 + random() % 12), random() % 4'000'000);
    }
    const profiles::OffCpuStore delta = store.TakeDelta();
    for (const auto& [stack, totals] : delta.totals()) delta_sum += totals.delay_ns;
  }
  double total = 0;
  for (const auto& [stack, totals] : store.since_start().totals()) total += totals.delay_ns;
  CHECK(delta_sum == Approx(total));
  CHECK(store.stacks() <= 8);
  CHECK(store.overflow_events() > 0);
}

}  // namespace
}  // namespace pprofd::kinds::offcpu
