// The look-back history: per-second totals and the spans cut from them, eviction by age with the
// stacks only old seconds used, the byte cap (oldest seconds first, then the overflow stack, and
// never a sample lost), rates per second, and how its byte count compares with what malloc holds.
#include "agent/kinds/cpu/history_store.h"

#include <malloc.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>

namespace pprofd::kinds::cpu {
namespace {

constexpr int64_t kS = 1000000000;

profiles::Stack StackOf(uint64_t leaf, size_t depth = 8) {
  profiles::Stack stack;
  for (size_t i = 0; i < depth; ++i) {
    stack.push_back(profiles::Frame{profiles::kFirstUserModule, leaf * 4096 + i});
  }
  return stack;
}

// Count and nanoseconds of `stack` in `span`, over every thread.
std::pair<int64_t, int64_t> TotalOf(const HistoryStore& history, const HistorySpan& span,
                                    const profiles::Stack& stack) {
  int64_t count = 0, ns = 0;
  for (const HistoryTotal& total : span.totals) {
    if (history.stack(total.stack_id) == stack) {
      count += total.count;
      ns += total.nanoseconds;
    }
  }
  return {count, ns};
}

int64_t SpanCount(const HistorySpan& span) {
  int64_t count = 0;
  for (const HistoryTotal& total : span.totals) count += total.count;
  return count;
}

bool IsOverflow(const profiles::Stack& stack) {
  return stack.size() == 1 && stack[0].module == profiles::kMarkerModule &&
         stack[0].address == static_cast<uint64_t>(profiles::Marker::kHistoryFull);
}

TEST_CASE("The history adds samples up per second, stack and thread", "[history]") {
  HistoryStore history({.seconds = 600, .max_bytes = 8 << 20});
  history.Start(100 * kS + kS / 2);
  const profiles::Stack a = StackOf(1), b = StackOf(2);
  for (int i = 0; i < 10; ++i) history.Add(100 * kS + 600000000 + i, a, 7, "worker", 10000000, 99);
  for (int i = 0; i < 5; ++i) history.Add(101 * kS + i, a, 7, "worker", 10000000, 99);
  for (int i = 0; i < 3; ++i) history.Add(101 * kS + i, a, 8, "other", 10000000, 99);
  for (int i = 0; i < 4; ++i) history.Add(102 * kS + i, b, 7, "worker", 10000000, 99);
  history.Advance(102 * kS + kS / 2, 99, 0);

  // Everything held: from the start, not from a second boundary before it.
  HistorySpan all = history.Span(50 * kS, 102 * kS + kS / 2);
  CHECK(all.begin_ns == 100 * kS + kS / 2);
  CHECK(TotalOf(history, all, a) == std::pair<int64_t, int64_t>{18, 180000000});
  CHECK(TotalOf(history, all, b) == std::pair<int64_t, int64_t>{4, 40000000});
  CHECK(all.totals.size() == 3);  // (a, worker), (a, other), (b, worker)

  // From 100.7 s: the first whole second is 101.
  HistorySpan later = history.Span(100 * kS + 700000000, 102 * kS + kS / 2);
  CHECK(later.begin_ns == 101 * kS);
  CHECK(TotalOf(history, later, a).first == 8);
  CHECK(TotalOf(history, later, b).first == 4);
  // Only the last second.
  HistorySpan last = history.Span(101 * kS + 1, 102 * kS + kS / 2);
  CHECK(last.begin_ns == 102 * kS);
  CHECK(TotalOf(history, last, a).first == 0);
  CHECK(TotalOf(history, last, b).first == 4);
  for (const HistoryTotal& total : all.totals) {
    if (history.thread_tid(total.thread_id) == 8)
      CHECK(history.thread_name(total.thread_id) == "other");
  }
}

TEST_CASE("A late sample is counted in its own second", "[history]") {
  HistoryStore history({.seconds = 600, .max_bytes = 8 << 20});
  history.Start(100 * kS);
  history.Add(105 * kS + 10, StackOf(1), 1, "t", 1, 99);
  history.Add(103 * kS + 10, StackOf(2), 1, "t", 1, 99);  // drained after the one above
  history.Add(104 * kS + 10, StackOf(3), 1, "t", 1, 99);
  CHECK(TotalOf(history, history.Span(104 * kS, 106 * kS), StackOf(2)).first == 0);
  CHECK(TotalOf(history, history.Span(104 * kS, 106 * kS), StackOf(3)).first == 1);
  CHECK(TotalOf(history, history.Span(103 * kS, 106 * kS), StackOf(2)).first == 1);
}

TEST_CASE("Seconds older than --history go, and the stacks only they used with them", "[history]") {
  HistoryStore history({.seconds = 10, .max_bytes = 8 << 20});
  history.Start(1000 * kS);
  const size_t empty_bytes = history.bytes();
  const profiles::Stack everywhere = StackOf(999);
  for (int s = 0; s < 60; ++s) {
    const int64_t t = (1000 + s) * kS;
    history.Add(t + 1, StackOf(static_cast<uint64_t>(s)), 1, "t", 52631578, 19);
    history.Add(t + 2, everywhere, 1, "t", 52631578, 19);
    history.Advance(t + kS / 2, 19, 0);
    // The current second and the 10 before it.
    CHECK(history.second_count() <= 11);
    // The overflow stack, `everywhere`, and one per held second.
    CHECK(history.stack_count() <= 2 + 11);
  }
  CHECK(history.held_since_ns() == 1049 * kS);
  CHECK(history.evicted_seconds() == 0);
  HistorySpan span = history.Span(0, 1060 * kS);
  CHECK(span.begin_ns == 1049 * kS);
  CHECK(TotalOf(history, span, everywhere).first == 11);
  CHECK(TotalOf(history, span, StackOf(48)).first == 0);
  CHECK(TotalOf(history, span, StackOf(49)).first == 1);

  // Idle from now on: every second empties, every stack of the target is freed.
  for (int s = 60; s < 80; ++s) history.Advance((1000 + s) * kS, 19, 0);
  CHECK(history.stack_count() == 1);
  CHECK(SpanCount(history.Span(0, 1080 * kS)) == 0);
  // What is left: the tables' arrays (they keep their capacity) and 11 empty seconds.
  CHECK(history.bytes() < empty_bytes + 8192);
}

TEST_CASE("The byte cap drops the oldest seconds first, then counts in the overflow stack",
          "[history]") {
  constexpr size_t kCap = 256 * 1024;
  HistoryStore history({.seconds = 600, .max_bytes = kCap});
  history.Start(0);
  uint64_t next_stack = 0;
  int64_t added = 0;
  // 40 seconds of 20 new 64-frame stacks (~1.1 KB each): far more than the cap holds.
  for (int s = 0; s < 40; ++s) {
    for (int i = 0; i < 20; ++i) {
      history.Add(s * kS + i, StackOf(next_stack++, 64), 1, "t", 1000, 99);
      ++added;
      REQUIRE(history.bytes() <= kCap);
    }
    history.Advance(s * kS + kS / 2, 99, 0);
  }
  CHECK(history.evicted_seconds() > 0);
  CHECK(history.overflow_samples() == 0);
  CHECK(history.held_since_ns() == static_cast<int64_t>(history.evicted_seconds()) * kS);
  // What is held is whole seconds: 20 samples each.
  HistorySpan held = history.Span(0, 40 * kS);
  CHECK(SpanCount(held) == 20 * (40 - static_cast<int64_t>(history.evicted_seconds())));

  // One second with more new stacks than the whole cap: the older seconds go, then the rest
  // of the samples are counted in the overflow stack.
  const int64_t t = 40 * kS;
  for (int i = 0; i < 400; ++i) {
    history.Add(t + i, StackOf(next_stack++, 64), 1, "t", 1000, 99);
    REQUIRE(history.bytes() <= kCap);
  }
  CHECK(history.second_count() == 1);
  CHECK(history.overflow_samples() > 0);
  HistorySpan now = history.Span(t, t + kS);
  CHECK(now.overflow_samples == history.overflow_samples());
  // Never lost: every sample of the second is in the span, kept or in the overflow stack.
  CHECK(SpanCount(now) == 400);
  int64_t in_overflow = 0;
  for (const HistoryTotal& total : now.totals) {
    if (IsOverflow(history.stack(total.stack_id))) in_overflow += total.count;
  }
  CHECK(in_overflow == static_cast<int64_t>(history.overflow_samples()));
  // A known stack still counts as itself while the cap holds: no new bytes for it.
  const profiles::Stack known = history.stack(now.totals.front().stack_id);
  const uint64_t overflow_before = history.overflow_samples();
  history.Add(t + 500, known, 1, "t", 1000, 99);
  CHECK(history.overflow_samples() == overflow_before);
}

TEST_CASE("Each second keeps the rate it was sampled at; nanoseconds weigh each sample",
          "[history]") {
  HistoryStore history({.seconds = 600, .max_bytes = 8 << 20});
  history.Start(0);
  const profiles::Stack a = StackOf(1);
  // 4 s at 19 Hz, 2 s at 99 Hz (a window asked for more), 4 s at 19 Hz: one busy thread.
  for (int s = 0; s < 10; ++s) {
    const int hz = (s == 4 || s == 5) ? 99 : 19;
    for (int i = 0; i < hz; ++i) {
      history.Add(s * kS + int64_t{i} * kS / hz, a, 1, "t", 1000000000 / hz, hz);
    }
    history.Advance(s * kS + kS - 1, hz, s == 5 ? 3 : 0);
  }
  HistorySpan span = history.Span(0, 10 * kS);
  CHECK(span.seconds_at_hz == std::map<int, int>{{19, 8}, {99, 2}});
  CHECK(span.lost_samples == 3);
  // 10 s of one CPU whatever the rates: the nanoseconds say so within rounding of periods.
  const auto [count, ns] = TotalOf(history, span, a);
  CHECK(count == 8 * 19 + 2 * 99);
  CHECK(ns == Approx(10.0 * kS).epsilon(0.001));
}

TEST_CASE("The history's byte count is what malloc holds for it, within a factor of 2",
          "[history]") {
  const size_t heap_before = ::mallinfo2().uordblks;
  auto history = std::make_unique<HistoryStore>(
      HistoryOptions{.seconds = 600, .max_bytes = size_t{256} << 20});
  history->Start(0);
  // 300 s of 19 Hz on 2 CPUs with a realistic variety: 20000 distinct 24-frame stacks.
  for (int s = 0; s < 300; ++s) {
    for (int i = 0; i < 38; ++i) {
      const uint64_t leaf = static_cast<uint64_t>((s * 38 + i) % 20000);
      history->Add(s * kS + i, StackOf(leaf, 24), static_cast<uint32_t>(i % 4), "worker", 52631578,
                   19);
    }
    history->Advance(s * kS + kS / 2, 19, 0);
  }
  const size_t heap_used = ::mallinfo2().uordblks - heap_before;
  INFO("store says " << history->bytes() << " bytes; malloc holds " << heap_used);
  CHECK(history->bytes() <= heap_used * 2);
  CHECK(heap_used <= history->bytes() * 2);
}

}  // namespace
}  // namespace pprofd::kinds::cpu
