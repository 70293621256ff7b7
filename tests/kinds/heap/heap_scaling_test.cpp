// Go's heap estimator, reproduced to the unit: hand-checkable cases, values computed with the same
// float64 formula elsewhere, and a comparison with Go itself over thousands of inputs.
#include "agent/kinds/heap/heap_scaling.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>
#include <tuple>
#include <vector>

#include "tests/support/go_tool.h"

namespace pprofd::profiles {
namespace {

TEST_CASE("ScaleHeapSample edge cases follow Go") {
  CHECK(ScaleHeapSample(0, 100, 512) == ScaledCounts{0, 0});
  CHECK(ScaleHeapSample(5, 0, 512) == ScaledCounts{0, 0});
  // rate 1 samples everything; rates below it are unknown: both leave the counts raw.
  CHECK(ScaleHeapSample(1000, 8000, 1) == ScaledCounts{1000, 8000});
  CHECK(ScaleHeapSample(3, 300, 0) == ScaledCounts{3, 300});
  CHECK(ScaleHeapSample(3, 300, -5) == ScaledCounts{3, 300});
}

TEST_CASE("ScaleHeapSample matches the float64 formula") {
  // Objects far larger than the rate are always sampled: scale 1.
  CHECK(ScaleHeapSample(5, 5LL << 30, 524288) == ScaledCounts{5, 5LL << 30});
  // size == rate: scale 1/(1-1/e) = 1.5819767068693265.
  CHECK(ScaleHeapSample(1, 524288, 524288) == ScaledCounts{1, 829411});
  CHECK(ScaleHeapSample(10, 5242880, 524288) == ScaledCounts{15, 8294114});
  CHECK(ScaleHeapSample(2, 65536, 32768) == ScaledCounts{3, 103676});
  // Small objects: scale ~ rate/size + 1/2.
  CHECK(ScaleHeapSample(1, 1, 524288) == ScaledCounts{524288, 524288});
  CHECK(ScaleHeapSample(3, 48, 524288) == ScaledCounts{98305, 1572888});
  CHECK(ScaleHeapSample(100, 6400, 524288) == ScaledCounts{819250, 52432000});
  CHECK(ScaleHeapSample(7, 7000, 4096) == ScaledCounts{32, 32314});
  // The average decides, not the record's total.
  const double scale = 1 / (1 - std::exp(-1.0));
  CHECK(ScaleHeapSample(4, 4 * 4096, 4096).bytes == static_cast<int64_t>(4 * 4096 * scale));
}

TEST_CASE("ScaleHeapSample agrees with Go's runtime/pprof arithmetic", "[go]") {
  testing::GoTool go;
  if (!go.ok()) FAIL("`go` not found in PATH; install golang-go to compare with Go");

  std::vector<std::tuple<int64_t, int64_t, int64_t>> inputs;
  for (int64_t count : {1, 2, 3, 7, 10, 100, 1000, 12345}) {
    for (int64_t size : {1, 8, 16, 24, 100, 1000, 4096, 65536, 524288, 1 << 20, 3 << 20, 123457}) {
      for (int64_t rate : {1, 2, 512, 4096, 32768, 524288, 1 << 20}) {
        inputs.emplace_back(count, count * size, rate);
      }
    }
  }
  uint64_t state = 42;
  auto next = [&](uint64_t limit) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state >> 33) % limit) + 1;
  };
  for (int i = 0; i < 3000; ++i) {
    int64_t count = next(100000);
    int64_t size = next(i % 2 ? 4096 : 10000000);
    inputs.emplace_back(count, count * size, next(2000000));
  }

  // The same function as Go's runtime/pprof (protomem.go), fed the same inputs.
  std::ostringstream program;
  program << "package main\n"
             "import (\"fmt\"; \"math\")\n"
             "func scale(count, size, rate int64) (int64, int64) {\n"
             "  if count == 0 || size == 0 { return 0, 0 }\n"
             "  if rate <= 1 { return count, size }\n"
             "  avgSize := float64(size) / float64(count)\n"
             "  scale := 1 / (1 - math.Exp(-avgSize/float64(rate)))\n"
             "  return int64(float64(count) * scale), int64(float64(size) * scale)\n"
             "}\n"
             "var inputs = [][3]int64{\n";
  for (const auto& [count, bytes, rate] : inputs) {
    program << "{" << count << "," << bytes << "," << rate << "},\n";
  }
  program << "}\n"
             "func main() {\n"
             "  for _, in := range inputs { c, b := scale(in[0], in[1], in[2]); "
             "fmt.Println(c, b) }\n"
             "}\n";
  testing::CommandResult result = go.RunProgram(program.str());
  REQUIRE(result.exit_code == 0);

  std::istringstream lines(result.output);
  size_t mismatches = 0;
  for (const auto& [count, bytes, rate] : inputs) {
    int64_t go_count = -1, go_bytes = -1;
    REQUIRE(lines >> go_count >> go_bytes);
    ScaledCounts ours = ScaleHeapSample(count, bytes, rate);
    if (ours.count != go_count || ours.bytes != go_bytes) {
      ++mismatches;
      UNSCOPED_INFO("count=" << count << " bytes=" << bytes << " rate=" << rate << ": go "
                             << go_count << "/" << go_bytes << ", ours " << ours.count << "/"
                             << ours.bytes);
    }
  }
  CHECK(mismatches == 0);
  CHECK(inputs.size() > 3000);
}

}  // namespace
}  // namespace pprofd::profiles
