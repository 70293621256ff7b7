#include "agent/kinds/offcpu/offcpu_profile_writer.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "agent/profiles/legacy_text.h"
#include "agent/profiles/profile_locations.h"

namespace pprofd::profiles {
namespace {

struct Entry {
  const Stack* stack;
  int64_t contentions;
  int64_t delay_ns;
};

bool FrameLess(const Frame& a, const Frame& b) {
  return a.module != b.module ? a.module < b.module : a.address < b.address;
}

// The store's stacks with rounded values, largest delay first as Go sorts by cycles; the rest of
// the order only makes the output reproducible.
std::vector<Entry> SortedEntries(const OffCpuStore& store) {
  std::vector<Entry> entries;
  entries.reserve(store.totals().size());
  for (const auto& [stack, totals] : store.totals()) {
    entries.push_back(
        Entry{&stack, std::llround(totals.contentions), std::llround(totals.delay_ns)});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.delay_ns != b.delay_ns) return a.delay_ns > b.delay_ns;
    if (a.contentions != b.contentions) return a.contentions > b.contentions;
    return std::lexicographical_compare(a.stack->begin(), a.stack->end(), b.stack->begin(),
                                        b.stack->end(), FrameLess);
  });
  return entries;
}

}  // namespace

void OffCpuStore::AddSampled(const Stack& stack, uint64_t delay_ns) {
  const uint64_t delay = std::max<uint64_t>(delay_ns, 1);
  OffCpuTotals& totals = totals_[stack];
  if (delay < rate_ns_) {
    // Recorded with probability delay/rate: it stands for rate/delay events of its length.
    totals.contentions += static_cast<double>(rate_ns_) / static_cast<double>(delay);
    totals.delay_ns += static_cast<double>(rate_ns_);
  } else {
    totals.contentions += 1;
    totals.delay_ns += static_cast<double>(delay);
  }
}

void OffCpuStore::AddExact(const Stack& stack, uint64_t delay_ns) {
  OffCpuTotals& totals = totals_[stack];
  totals.contentions += 1;
  totals.delay_ns += static_cast<double>(delay_ns);
}

void OffCpuStore::AddTotals(const Stack& stack, const OffCpuTotals& totals) {
  OffCpuTotals& sum = totals_[stack];
  sum.contentions += totals.contentions;
  sum.delay_ns += totals.delay_ns;
}

proto::ProfileBuilder BuildOffCpuProfile(const OffCpuStore& store, FrameSymbolizer& symbolizer,
                                         std::optional<uint32_t> main_module,
                                         const OffCpuProfileMeta& meta) {
  proto::ProfileBuilder builder;
  builder.AddSampleType("contentions", "count");
  builder.AddSampleType("delay", "nanoseconds");
  builder.SetPeriod("contentions", "count", 1);
  builder.SetTime(meta.start_wall_ns, meta.duration_ns);
  for (const std::string& comment : meta.comments) builder.AddComment(comment);

  ProfileLocations locations(&builder, &symbolizer, main_module);
  for (const Entry& entry : SortedEntries(store)) {
    std::vector<uint64_t> ids;
    ids.reserve(entry.stack->size());
    for (const Frame& frame : *entry.stack) ids.push_back(locations.LocationId(frame));
    builder.AddSample(ids, {entry.contentions, entry.delay_ns});
  }
  return builder;
}

std::string OffCpuProfileText(const OffCpuStore& store, FrameSymbolizer& symbolizer,
                              const OffCpuProfileMeta& meta) {
  // pprof converts "cycles" to nanoseconds with this rate: at 1 GHz they are nanoseconds already.
  std::string out = "--- contention:\ncycles/second=1000000000\n";
  for (const Entry& entry : SortedEntries(store)) {
    out += std::to_string(entry.delay_ns) + " " + std::to_string(entry.contentions) + " @";
    AppendReturnAddresses(&out, *entry.stack);
    AppendFrameComments(&out, *entry.stack, symbolizer);
    out += '\n';
  }

  out += "\n";
  AppendCommentBlock(&out, meta.comments);
  return out;
}

}  // namespace pprofd::profiles
