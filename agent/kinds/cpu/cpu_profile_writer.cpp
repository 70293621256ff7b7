#include "agent/kinds/cpu/cpu_profile_writer.h"

#include <map>
#include <utility>

#include "agent/profiles/profile_locations.h"

namespace pprofd::profiles {

proto::ProfileBuilder BuildCpuProfile(const std::vector<StoredSample>& samples,
                                      const SampleStore& store, FrameSymbolizer& symbolizer,
                                      std::optional<uint32_t> main_module,
                                      const CpuProfileMeta& meta) {
  proto::ProfileBuilder builder;
  builder.AddSampleType("samples", "count");
  builder.AddSampleType("cpu", "nanoseconds");
  builder.SetPeriod("cpu", "nanoseconds", 1000000000LL / meta.hz);
  builder.SetTime(meta.start_wall_ns, meta.duration_ns);
  for (const std::string& comment : meta.comments) builder.AddComment(comment);

  // Aggregate first: a window holds many samples of few (stack, thread) pairs.
  struct Totals {
    int64_t count = 0;
    int64_t nanoseconds = 0;
  };
  std::map<std::pair<uint32_t, uint32_t>, Totals> totals;  // (stack id, tid)
  for (const StoredSample& sample : samples) {
    Totals& t = totals[{sample.stack_id, sample.tid}];
    ++t.count;
    t.nanoseconds += sample.weight_ns;
  }

  ProfileLocations locations_of(&builder, &symbolizer, main_module);
  for (const auto& [key, t] : totals) {
    const Stack& stack = store.stack(key.first);
    std::vector<uint64_t> locations;
    locations.reserve(stack.size());
    for (const Frame& frame : stack) locations.push_back(locations_of.LocationId(frame));
    std::vector<proto::Label> labels(2);
    labels[0].key = "thread_id";
    labels[0].num = key.second;
    labels[1].key = "thread_name";
    labels[1].str = store.ThreadName(key.second);
    builder.AddSample(locations, {t.count, t.nanoseconds}, labels);
  }
  return builder;
}

}  // namespace pprofd::profiles
