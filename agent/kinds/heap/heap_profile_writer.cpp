#include "agent/kinds/heap/heap_profile_writer.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <unordered_map>

#include "agent/kinds/heap/heap_scaling.h"
#include "agent/profiles/legacy_text.h"
#include "agent/profiles/profile_locations.h"

namespace pprofd::profiles {
namespace {

// Delta profiles can hold negative counts; Go scales each record's magnitude, so do we.
ScaledCounts ScaleSigned(int64_t count, int64_t bytes, int64_t rate) {
  if (count < 0 || bytes < 0) {
    ScaledCounts magnitude = ScaleHeapSample(-count, -bytes, rate);
    return {-magnitude.count, -magnitude.bytes};
  }
  return ScaleHeapSample(count, bytes, rate);
}

bool AllZero(const HeapRecord& record) {
  return record.allocs == 0 && record.alloc_bytes() == 0 && record.inuse_objects() == 0 &&
         record.inuse_bytes() == 0;
}

// The function whose code holds the frame's address: the outermost of an inline chain.
const proto::LineInfo* PhysicalFunction(const Frame& frame, FrameSymbolizer& symbolizer) {
  if (frame.module == kMarkerModule || frame.module == kKernelModule) return nullptr;
  const std::vector<proto::LineInfo>& lines = symbolizer.Lines(frame);
  return lines.empty() ? nullptr : &lines.back();
}

void AppendCounts(std::string* out, int64_t inuse_objects, int64_t inuse_bytes,
                  int64_t alloc_objects, int64_t alloc_bytes) {
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @",
                inuse_objects, inuse_bytes, alloc_objects, alloc_bytes);
  out->append(buffer);
}

}  // namespace

bool IsAllocatorFunction(std::string_view system_name) {
  static constexpr std::array<std::string_view, 31> kAllocators = {
      // operator new / new[], plain, nothrow, aligned, aligned nothrow (x86-64 manglings).
      "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
      "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
      "_ZnamSt11align_val_tRKSt9nothrow_t",
      // The C entry points the heap sampler probes, and glibc's aliases of them.
      "malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
      "valloc", "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_memalign",
      "__libc_valloc", "__libc_pvalloc", "__libc_reallocarray", "__posix_memalign",
      // tcmalloc's exported names (jemalloc exports the plain C names).
      "tc_malloc", "tc_calloc", "tc_realloc", "tc_new", "tc_newarray", "tc_memalign"};
  // glibc's symbol table names its internal calls by hidden aliases: __GI___libc_malloc.
  constexpr std::string_view kGlibcInternal = "__GI_";
  if (system_name.substr(0, kGlibcInternal.size()) == kGlibcInternal) {
    system_name.remove_prefix(kGlibcInternal.size());
  }
  return std::find(kAllocators.begin(), kAllocators.end(), system_name) != kAllocators.end();
}

size_t LeadingAllocatorFrames(const Stack& stack, FrameSymbolizer& symbolizer) {
  size_t skip = 0;
  while (skip + 1 < stack.size()) {
    const proto::LineInfo* function = PhysicalFunction(stack[skip], symbolizer);
    if (function == nullptr || !IsAllocatorFunction(function->system_name)) break;
    ++skip;
  }
  return skip;
}

proto::ProfileBuilder BuildHeapProfile(const std::vector<HeapRecord>& records,
                                       const SampleStore& stacks, FrameSymbolizer& symbolizer,
                                       std::optional<uint32_t> main_module,
                                       const HeapProfileMeta& meta) {
  proto::ProfileBuilder builder;
  // Go's order; pprof shows the last type (inuse_space) unless default_sample_type says else.
  builder.AddSampleType("alloc_objects", "count");
  builder.AddSampleType("alloc_space", "bytes");
  builder.AddSampleType("inuse_objects", "count");
  builder.AddSampleType("inuse_space", "bytes");
  builder.SetPeriod("space", "bytes", meta.rate_bytes);
  builder.SetTime(meta.time_wall_ns, meta.duration_ns);
  if (!meta.default_sample_type.empty()) builder.SetDefaultSampleType(meta.default_sample_type);
  for (const std::string& comment : meta.comments) builder.AddComment(comment);

  ProfileLocations locations(&builder, &symbolizer, main_module);
  // Records of one stack differ by object size only: resolve each stack once.
  std::unordered_map<uint32_t, std::vector<uint64_t>> stack_locations;
  for (const HeapRecord& record : records) {
    const ScaledCounts alloc = ScaleSigned(record.allocs, record.alloc_bytes(), meta.rate_bytes);
    const ScaledCounts inuse =
        ScaleSigned(record.inuse_objects(), record.inuse_bytes(), meta.rate_bytes);
    // Zero-byte objects (malloc(0)) scale to nothing, as in Go; such samples only add noise.
    if (alloc == ScaledCounts{} && inuse == ScaledCounts{}) continue;
    auto it = stack_locations.find(record.stack_id);
    if (it == stack_locations.end()) {
      const Stack& stack = stacks.stack(record.stack_id);
      std::vector<uint64_t> ids;
      ids.reserve(stack.size());
      for (size_t i = LeadingAllocatorFrames(stack, symbolizer); i < stack.size(); ++i) {
        ids.push_back(locations.LocationId(stack[i]));
      }
      it = stack_locations.emplace(record.stack_id, std::move(ids)).first;
    }
    // As Go: the object size as numeric label "bytes", without unit, left out when zero.
    std::vector<proto::Label> labels;
    if (record.object_size != 0) {
      proto::Label label;
      label.key = "bytes";
      label.num = static_cast<int64_t>(record.object_size);
      labels.push_back(std::move(label));
    }
    builder.AddSample(it->second, {alloc.count, alloc.bytes, inuse.count, inuse.bytes}, labels);
  }
  return builder;
}

std::string HeapProfileText(const std::vector<HeapRecord>& records, const SampleStore& stacks,
                            FrameSymbolizer& symbolizer, const HeapProfileMeta& meta) {
  std::vector<const HeapRecord*> sorted;
  sorted.reserve(records.size());
  for (const HeapRecord& record : records) {
    if (!AllZero(record)) sorted.push_back(&record);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const HeapRecord* a, const HeapRecord* b) {
    return a->inuse_bytes() > b->inuse_bytes();
  });

  int64_t inuse_objects = 0, inuse_bytes = 0, alloc_objects = 0, alloc_bytes = 0;
  for (const HeapRecord* record : sorted) {
    inuse_objects += record->inuse_objects();
    inuse_bytes += record->inuse_bytes();
    alloc_objects += record->allocs;
    alloc_bytes += record->alloc_bytes();
  }

  std::string out = "heap profile: ";
  AppendCounts(&out, inuse_objects, inuse_bytes, alloc_objects, alloc_bytes);
  // 2*rate: what early C++ heap profilers wrote and what pprof still divides by two.
  out += " heap/" + std::to_string(2 * meta.rate_bytes) + "\n";

  for (const HeapRecord* record : sorted) {
    AppendCounts(&out, record->inuse_objects(), record->inuse_bytes(), record->allocs,
                 record->alloc_bytes());
    const Stack& stack = stacks.stack(record->stack_id);
    const size_t first = LeadingAllocatorFrames(stack, symbolizer);
    const auto frames = std::span<const Frame>(stack).subspan(first);
    AppendReturnAddresses(&out, frames);
    AppendFrameComments(&out, frames, symbolizer);
    out += '\n';
  }

  out += "\n";
  AppendCommentBlock(&out, meta.comments);
  return out;
}

}  // namespace pprofd::profiles
