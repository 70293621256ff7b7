// Cost per malloc+free pair that the heap sampler adds to a malloc-heavy loop: heap_probe_target
// runs N malloc(64)/free pairs with no probes, and attached in session and classic mode at the
// default rate and at rate 1. Configurations alternate; the median of the runs is printed.
// Usage: heap_sampler_bench [pairs=10000000] [runs=5] [rate1_pairs=1000000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "agent/kinds/heap/heap_sampler.h"
#include "tests/kinds/heap/sampler/heap_test_support.h"

namespace sampling = pprofd::sampling;

namespace {

struct Config {
  const char* name;
  bool attach;
  bool classic;
  uint64_t rate;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t pairs = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const uint64_t rate1_pairs = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1'000'000;
  const Config configs[] = {
      {"no probes", false, false, 0},
      {"session, rate 512 KiB", true, false, 512 * 1024},
      {"classic, rate 512 KiB", true, true, 512 * 1024},
      {"session, rate 1", true, false, 1},
      {"classic, rate 1", true, true, 1},
  };
  sampling::testing::ProbeTarget target;
  sampling::testing::AllocatorLocation location =
      sampling::testing::LocateGlibcAllocator(target.pid());
  std::printf("libc %s, free probed at +0x%llx (entry +0x%llx)\n", location.module_path.c_str(),
              static_cast<unsigned long long>(location.free_offset),
              static_cast<unsigned long long>(location.entry_offsets.at("free")));

  std::vector<std::unique_ptr<sampling::HeapSampler>> samplers;
  for (const Config& config : configs) {
    if (!config.attach) {
      samplers.emplace_back();
      continue;
    }
    sampling::HeapSamplerOptions options;
    options.target_pid = target.pid();
    options.module_path = location.module_path;
    options.probes = location.probes;
    options.rate_bytes = config.rate;
    options.force_classic = config.classic;
    auto sampler = sampling::HeapSampler::Create(options);
    if (!sampler.ok()) {
      std::fprintf(stderr, "%s\n", sampler.status().message().c_str());
      return 1;
    }
    samplers.push_back(std::move(*sampler));
  }

  std::vector<std::vector<double>> ns_per_pair(std::size(configs));
  std::vector<double> baseline_rate1;
  for (int run = 0; run < runs; ++run) {
    for (size_t c = 0; c < std::size(configs); ++c) {
      const Config& config = configs[c];
      const uint64_t n = config.rate == 1 ? rate1_pairs : pairs;
      sampling::HeapSampler* sampler = samplers[c].get();
      if (sampler != nullptr && !sampler->Attach().ok()) return 1;
      std::atomic<bool> stop{false};
      uint64_t records = 0;
      std::thread drainer([&] {
        auto on_alloc = [&](const sampling::RawHeapAlloc&) { ++records; };
        auto on_free = [&](const sampling::RawHeapFree&) { ++records; };
        while (!stop.load()) {
          if (sampler != nullptr) sampler->Drain(on_alloc, on_free);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      });
      std::vector<std::string> lines = target.Command("loop " + std::to_string(n));
      stop = true;
      drainer.join();
      if (sampler != nullptr) sampler->Detach();
      double ns = std::stod(lines.back().substr(5));
      ns_per_pair[c].push_back(ns / static_cast<double>(n));
      if (c == 0) {
        lines = target.Command("loop " + std::to_string(rate1_pairs));
        baseline_rate1.push_back(std::stod(lines.back().substr(5)) / rate1_pairs);
      }
    }
  }
  const double base = Median(ns_per_pair[0]);
  const double base_rate1 = Median(baseline_rate1);
  std::printf("%-24s %14s %14s\n", "configuration", "ns/pair", "added ns/pair");
  for (size_t c = 0; c < std::size(configs); ++c) {
    double median = Median(ns_per_pair[c]);
    double reference = configs[c].rate == 1 ? base_rate1 : base;
    std::printf("%-24s %14.1f %14.1f\n", configs[c].name, median, median - reference);
  }
  for (size_t c = 1; c < std::size(configs); ++c) {
    auto stats = samplers[c]->Stats();
    std::printf("%-24s calls %llu sampled %llu nested %llu lost %llu\n", configs[c].name,
                static_cast<unsigned long long>(stats[PPROFD_HEAP_STAT_CALLS]),
                static_cast<unsigned long long>(stats[PPROFD_HEAP_STAT_SAMPLED]),
                static_cast<unsigned long long>(stats[PPROFD_HEAP_STAT_NESTED]),
                static_cast<unsigned long long>(stats[PPROFD_HEAP_STAT_LOST_ALLOC]));
  }
  return 0;
}
