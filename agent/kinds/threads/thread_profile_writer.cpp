#include "agent/kinds/threads/thread_profile_writer.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <unordered_map>

#include "agent/profiles/legacy_text.h"
#include "agent/profiles/profile_locations.h"

namespace pprofd::profiles {
namespace {

std::vector<const ThreadState*> ByTid(const std::vector<ThreadState>& threads) {
  std::vector<const ThreadState*> sorted;
  sorted.reserve(threads.size());
  for (const ThreadState& thread : threads) sorted.push_back(&thread);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const ThreadState* a, const ThreadState* b) { return a->tid < b->tid; });
  return sorted;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "libc.so.6+0x1a2b" for a frame of a user module, as FrameSymbolizer names unsymbolized ones.
std::string ModuleOffset(const Frame& frame, FrameSymbolizer& symbolizer) {
  const proto::MappingInfo mapping = symbolizer.MappingFor(frame.module);
  std::string out = Basename(mapping.filename) + "+";
  AppendHex(&out, frame.address - mapping.memory_start + mapping.file_offset);
  return out;
}

void AppendDumpFrame(std::string* out, const Frame& frame, FrameSymbolizer& symbolizer) {
  const std::vector<proto::LineInfo>& lines = symbolizer.Lines(frame);
  if (frame.module == kMarkerModule) {
    out->append(
        (lines.empty() ? MarkerName(static_cast<Marker>(frame.address)) : lines.front().function) +
        "\n");
    return;
  }
  if (frame.module == kKernelModule) {
    for (const proto::LineInfo& line : lines) out->append(line.function + " [kernel]\n");
    return;
  }
  if (lines.empty()) {  // outside every mapping: JIT code, anonymous memory
    AppendHex(out, frame.address);
    out->append("\n\t[no mapping]\n");
    return;
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const proto::LineInfo& line = lines[i];
    out->append(line.function);
    // The chain is innermost first; the last function is the one whose code holds the address.
    if (i + 1 < lines.size()) out->append(" (inlined)");
    out->push_back('\n');
    if (!line.filename.empty()) {
      out->append("\t" + line.filename + ":" + std::to_string(line.line) + "\n");
    } else if (frame.module >= kFirstUserModule) {
      std::string where = ModuleOffset(frame, symbolizer);
      // An address no symbol covers is already named by its module and offset.
      if (where != line.function) out->append("\t" + where + "\n");
    }
  }
}

}  // namespace

std::string ThreadStateName(char state) {
  switch (state) {
    case 'R':
      return "running";
    case 'S':
      return "sleeping";
    case 'D':
      return "disk sleep";
    case 'T':
      return "stopped";
    case 't':
      return "tracing stop";
    case 'Z':
      return "zombie";
    case 'X':
      return "dead";
    case 'I':
      return "idle";
    case 'P':
      return "parked";
  }
  return std::string("unknown (") + state + ")";
}

proto::ProfileBuilder BuildThreadProfile(const std::vector<ThreadState>& threads,
                                         FrameSymbolizer& symbolizer,
                                         std::optional<uint32_t> main_module,
                                         const ThreadProfileMeta& meta) {
  proto::ProfileBuilder builder;
  builder.AddSampleType(meta.sample_type, "count");
  builder.SetPeriod(meta.sample_type, "count", 1);
  builder.SetTime(meta.time_wall_ns, 0);
  for (const std::string& comment : meta.comments) builder.AddComment(comment);

  ProfileLocations locations(&builder, &symbolizer, main_module);
  for (const ThreadState* thread : ByTid(threads)) {
    std::vector<uint64_t> ids;
    ids.reserve(thread->stack.size());
    for (const Frame& frame : thread->stack) ids.push_back(locations.LocationId(frame));
    std::vector<proto::Label> labels(3);
    labels[0].key = "thread_id";
    labels[0].num = thread->tid;
    labels[1].key = "thread_name";
    labels[1].str = thread->name;
    labels[2].key = "state";
    labels[2].str = ThreadStateName(thread->state);
    // An empty string would make the builder write a numeric label of 0.
    if (labels[1].str.empty()) labels[1].str = "?";
    if (thread->off_cpu_ns) {
      // Numeric with a unit, so that -tagfocus=off_cpu=10s: picks the threads stuck that long.
      proto::Label off_cpu;
      off_cpu.key = "off_cpu";
      off_cpu.num = static_cast<int64_t>(*thread->off_cpu_ns);
      off_cpu.num_unit = "nanoseconds";
      labels.push_back(off_cpu);
    }
    builder.AddSample(ids, {1}, labels);
  }
  return builder;
}

std::string ThreadProfileGroupedText(const std::vector<ThreadState>& threads,
                                     FrameSymbolizer& symbolizer, const ThreadProfileMeta& meta) {
  // Threads come in tid order, so each group's members do too and its first is its lowest tid.
  std::unordered_map<Stack, std::vector<const ThreadState*>, StackHash> by_stack;
  std::vector<const std::vector<const ThreadState*>*> groups;
  for (const ThreadState* thread : ByTid(threads)) {
    auto [it, inserted] = by_stack.try_emplace(thread->stack);
    it->second.push_back(thread);
    if (inserted) groups.push_back(&it->second);
  }
  // As Go: largest group first. Groups are listed by first tid already, which breaks ties.
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto* a, const auto* b) { return a->size() > b->size(); });

  std::string out = "threads profile: total " + std::to_string(threads.size()) + "\n";
  for (const std::vector<const ThreadState*>* group : groups) {
    const Stack& stack = group->front()->stack;
    out += std::to_string(group->size()) + " @";
    AppendReturnAddresses(&out, stack);
    out += "# threads:";
    for (size_t i = 0; i < group->size(); ++i) {
      const ThreadState& thread = *(*group)[i];
      out += (i == 0 ? " " : ", ") + std::to_string(thread.tid) + " \"" + OneLine(thread.name) +
             "\" " + ThreadStateName(thread.state);
    }
    out += '\n';
    AppendFrameComments(&out, stack, symbolizer);
    out += '\n';
  }

  out += "\n";
  AppendCommentBlock(&out, meta.comments);
  return out;
}

std::string ThreadDumpText(const std::vector<ThreadState>& threads, FrameSymbolizer& symbolizer,
                           const ThreadProfileMeta& meta) {
  std::string out;
  AppendCommentBlock(&out, meta.comments);
  for (const ThreadState* thread : ByTid(threads)) {
    char cpu[48];
    std::snprintf(cpu, sizeof(cpu), "%.2f s CPU", static_cast<double>(thread->cpu_time_ns) / 1e9);
    std::string off_cpu;
    if (thread->off_cpu_ns) off_cpu = ", off CPU for " + HumanDuration(*thread->off_cpu_ns);
    out += "\nthread " + std::to_string(thread->tid) + " \"" + OneLine(thread->name) + "\" [" +
           ThreadStateName(thread->state) + (thread->on_cpu ? ", on CPU" : "") + off_cpu + ", " +
           cpu + "]:\n";
    if (thread->stack.empty()) out += "[no stack]\n";
    for (const Frame& frame : thread->stack) AppendDumpFrame(&out, frame, symbolizer);
  }
  return out;
}

}  // namespace pprofd::profiles
