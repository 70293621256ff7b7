#include "agent/profiles/cpu_profile_writer.h"

#include <map>
#include <unordered_map>
#include <utility>

namespace pprofd::profiles {
namespace {

struct FrameHash {
  size_t operator()(const Frame& frame) const {
    return std::hash<uint64_t>()(frame.address) ^ (size_t{frame.module} << 48);
  }
};

}  // namespace

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

  // mapping[0] must be the main executable: pprof treats it as the program.
  std::unordered_map<uint32_t, uint64_t> mapping_ids;
  auto mapping_id = [&](uint32_t module) -> uint64_t {
    if (module == kMarkerModule || module == kUnknownModule) return 0;
    auto it = mapping_ids.find(module);
    if (it != mapping_ids.end()) return it->second;
    uint64_t id = builder.AddMapping(symbolizer.MappingFor(module));
    mapping_ids.emplace(module, id);
    return id;
  };
  if (main_module) mapping_id(*main_module);

  std::unordered_map<Frame, uint64_t, FrameHash> location_ids;
  for (const auto& [key, t] : totals) {
    const Stack& stack = store.stack(key.first);
    std::vector<uint64_t> locations;
    locations.reserve(stack.size());
    for (const Frame& frame : stack) {
      auto it = location_ids.find(frame);
      if (it == location_ids.end()) {
        uint64_t address = frame.module == kMarkerModule ? 0 : frame.address;
        uint64_t id =
            builder.AddLocation(mapping_id(frame.module), address, symbolizer.Lines(frame));
        it = location_ids.emplace(frame, id).first;
      }
      locations.push_back(it->second);
    }
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
