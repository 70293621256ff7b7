// Cost the off-CPU sampler adds to a context-switch-heavy workload: pingpong_workload's two threads
// ping-pong a byte over two pipes, with no sampler, block attached (rate 1 and a large rate),
// mutex attached, and both. Configurations alternate round by round; medians are printed with
// the ratio to the baseline and the cost per block event (one per voluntary sleep).
// Usage: offcpu_sampler_bench [round_trips=200000] [runs=5] [large_rate_ns=1000000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "agent/kinds/offcpu/offcpu_sampler.h"
#include "tests/kinds/offcpu/sampler/offcpu_test_support.h"

namespace sampling = pprofd::sampling;

namespace {

struct Config {
  std::string name;
  bool block;
  bool mutex;
  uint64_t rate;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t round_trips = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const uint64_t large_rate = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1000000;
  const std::vector<Config> configs = {
      {"no sampler", false, false, 0},
      {"block, rate 1", true, false, 1},
      {"block, rate " + std::to_string(large_rate) + " ns", true, false, large_rate},
      {"mutex, rate 1", false, true, 1},
      {"block + mutex, rate 1", true, true, 1},
  };

  pprofd::testing::CommandChild workload(PINGPONG_WORKLOAD, {"serve"});
  sampling::OffCpuSamplerOptions options;
  options.target_pid = workload.pid();
  auto created = sampling::OffCpuSampler::Create(options);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().message().c_str());
    return 1;
  }
  sampling::OffCpuSampler& sampler = **created;

  std::vector<std::vector<double>> ns_per_trip(configs.size());
  std::vector<double> events_per_trip(configs.size()), records(configs.size()),
      lost(configs.size());
  for (int run = 0; run < runs; ++run) {
    for (size_t c = 0; c < configs.size(); ++c) {
      const Config& config = configs[c];
      if (config.block && !sampler.Attach(sampling::OffCpuKind::kBlock, config.rate).ok()) return 1;
      if (config.mutex && !sampler.Attach(sampling::OffCpuKind::kMutex, config.rate).ok()) return 1;
      const sampling::OffCpuStats before = sampler.Stats(sampling::OffCpuKind::kBlock);
      std::atomic<bool> stop{false};
      uint64_t drained = 0;
      std::thread drainer([&] {
        auto on_event = [&](const sampling::RawOffCpuEvent&) { ++drained; };
        while (!stop.load()) {
          sampler.Drain(on_event);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        sampler.Drain(on_event);
      });
      auto lines = workload.Command("run " + std::to_string(round_trips));
      stop = true;
      drainer.join();
      sampler.Detach(sampling::OffCpuKind::kBlock);
      sampler.Detach(sampling::OffCpuKind::kMutex);
      const sampling::OffCpuStats after = sampler.Stats(sampling::OffCpuKind::kBlock);
      ns_per_trip[c].push_back(static_cast<double>(sampling::testing::Field(lines, "ns")) /
                               static_cast<double>(round_trips));
      events_per_trip[c] += static_cast<double>(after.events - before.events) / round_trips / runs;
      records[c] += static_cast<double>(drained) / runs;
      lost[c] += static_cast<double>(after.lost - before.lost) / runs;
    }
  }
  const double base = Median(ns_per_trip[0]);
  std::printf("%llu round trips, median of %d runs\n", static_cast<unsigned long long>(round_trips),
              runs);
  std::printf("%-32s %10s %7s %12s %12s %14s %12s\n", "configuration", "ns/trip", "ratio",
              "added ns", "events/trip", "added ns/event", "records/run");
  for (size_t c = 0; c < configs.size(); ++c) {
    const double median = Median(ns_per_trip[c]);
    const double added = median - base;
    const double per_event = events_per_trip[c] > 0 ? added / events_per_trip[c] : 0;
    std::printf("%-32s %10.0f %7.3f %12.0f %12.2f %14.0f %12.0f", configs[c].name.c_str(), median,
                median / base, added, events_per_trip[c], per_event, records[c]);
    if (lost[c] > 0) std::printf("  (lost %.0f/run)", lost[c]);
    std::printf("\n");
  }
  return 0;
}
