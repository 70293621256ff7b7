#include "agent/kinds/cpu/cpu_profile_writer.h"

#include <map>
#include <utility>

#include "agent/profiles/profile_locations.h"

namespace pprofd::profiles {

proto::ProfileBuilder BuildCpuProfileFromTotals(const std::vector<CpuSampleTotal>& totals,
                                                FrameSymbolizer& symbolizer,
                                                std::optional<uint32_t> main_module,
                                                const CpuProfileMeta& meta) {
  proto::ProfileBuilder builder;
  builder.AddSampleType("samples", "count");
  builder.AddSampleType("cpu", "nanoseconds");
  builder.SetPeriod("cpu", "nanoseconds", 1000000000LL / meta.hz);
  builder.SetTime(meta.start_wall_ns, meta.duration_ns);
  for (const std::string& comment : meta.comments) builder.AddComment(comment);

  ProfileLocations locations_of(&builder, &symbolizer, main_module);
  for (const CpuSampleTotal& total : totals) {
    std::vector<uint64_t> locations;
    locations.reserve(total.stack->size());
    for (const Frame& frame : *total.stack) locations.push_back(locations_of.LocationId(frame));
    std::vector<proto::Label> labels(2);
    labels[0].key = "thread_id";
    labels[0].num = total.tid;
    labels[1].key = "thread_name";
    labels[1].str = *total.thread_name;
    builder.AddSample(locations, {total.count, total.nanoseconds}, labels);
  }
  return builder;
}

proto::ProfileBuilder BuildCpuProfile(const std::vector<StoredSample>& samples,
                                      const SampleStore& store, FrameSymbolizer& symbolizer,
                                      std::optional<uint32_t> main_module,
                                      const CpuProfileMeta& meta) {
  // Aggregate first: a window holds many samples of few (stack, thread) pairs.
  std::map<std::pair<uint32_t, uint32_t>, CpuSampleTotal> by_key;  // (stack id, tid)
  for (const StoredSample& sample : samples) {
    CpuSampleTotal& total = by_key[{sample.stack_id, sample.tid}];
    ++total.count;
    total.nanoseconds += sample.weight_ns;
  }
  std::vector<CpuSampleTotal> totals;
  totals.reserve(by_key.size());
  for (auto& [key, total] : by_key) {
    total.stack = &store.stack(key.first);
    total.tid = key.second;
    total.thread_name = &store.ThreadName(key.second);
    totals.push_back(total);
  }
  return BuildCpuProfileFromTotals(totals, symbolizer, main_module, meta);
}

}  // namespace pprofd::profiles
