// The window-edge accounting of the block and mutex profiles, apart from BPF.
#include "agent/kinds/offcpu/window_edges.h"

#include <catch2/catch.hpp>

namespace pprofd::kinds::offcpu {
namespace {

constexpr uint64_t kRate = 1000000;  // 1 ms, --offcpu-rate's default
using How = WaitShare::How;

TEST_CASE("A wait that ended before the window does not count", "[window_edges]") {
  const WaitShare share =
      ShareOfEndedWait(/*begin=*/10'000'000, /*end=*/9'999'999, 5'000'000, kRate);
  CHECK(share.how == How::kNone);
}

TEST_CASE("A wait wholly inside the window counts as recorded", "[window_edges]") {
  const WaitShare long_wait = ShareOfEndedWait(10'000'000, 30'000'000, 5'000'000, kRate);
  CHECK(long_wait.how == How::kSampled);
  CHECK(long_wait.ns == 5'000'000);
  const WaitShare short_wait = ShareOfEndedWait(10'000'000, 30'000'000, 200'000, kRate);
  CHECK(short_wait.how == How::kSampled);
  CHECK(short_wait.ns == 200'000);
}

TEST_CASE("A long wait that began before the window counts from the window's start, exactly",
          "[window_edges]") {
  // Began at 5 ms, the window at 10 ms, ended at 30 ms: 20 ms inside.
  const WaitShare share = ShareOfEndedWait(10'000'000, 30'000'000, 25'000'000, kRate);
  CHECK(share.how == How::kExact);
  CHECK(share.ns == 20'000'000);
  // Began exactly at the window's start: wholly inside.
  const WaitShare at_start = ShareOfEndedWait(10'000'000, 30'000'000, 20'000'000, kRate);
  CHECK(at_start.how == How::kSampled);
  CHECK(at_start.ns == 20'000'000);
}

TEST_CASE("A short wait across the window's start is a sample and counts whole", "[window_edges]") {
  const WaitShare share = ShareOfEndedWait(10'000'000, 10'300'000, 500'000, kRate);
  CHECK(share.how == How::kSampled);
  CHECK(share.ns == 500'000);
}

TEST_CASE("A wait still going on counts up to the window's end", "[window_edges]") {
  // Since before the window: the whole window.
  CHECK(ShareOfWaitInProgress(10'000'000, 40'000'000, 1'000'000) == 30'000'000);
  // Since inside it: from then on.
  CHECK(ShareOfWaitInProgress(10'000'000, 40'000'000, 25'000'000) == 15'000'000);
  // Since its end or later: nothing.
  CHECK_FALSE(ShareOfWaitInProgress(10'000'000, 40'000'000, 40'000'000).has_value());
}

}  // namespace
}  // namespace pprofd::kinds::offcpu
