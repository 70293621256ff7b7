#include "agent/profiles/frame_symbolizer.h"

#include "base/log.h"
#include "symbolizer/demangle.h"

namespace pprofd::profiles {
namespace {

std::string Hex(uint64_t value) { return StrCat("0x", std::hex, value); }

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<proto::LineInfo> Named(std::string function, std::string system_name) {
  proto::LineInfo line;
  line.function = std::move(function);
  line.system_name = std::move(system_name);
  return {std::move(line)};
}

}  // namespace

FrameSymbolizer::FrameSymbolizer(StackNormalizer* normalizer,
                                 const symbolizer::KernelSymbols* kernel_symbols,
                                 symbolizer::PerfMapReader::Options perf_map_options)
    : normalizer_(normalizer),
      kernel_symbols_(kernel_symbols),
      perf_map_(std::make_unique<symbolizer::PerfMapReader>(normalizer->address_space()->pid(),
                                                            perf_map_options)) {}

std::string FrameSymbolizer::ModuleOffsetName(const UserModule& module, uint64_t address) const {
  const symbolizer::MapEntry& entry = module.mapping.entry;
  // Anonymous memory: the kernel shows "" or, when named by prctl(PR_SET_VMA_ANON_NAME),
  // "[anon:NAME]" (NAME may hold '/', so it is not a path to take the basename of).
  if (entry.path.empty()) return "[anon]+" + Hex(address - entry.start);
  if (entry.path.starts_with("[anon:")) return entry.path + "+" + Hex(address - entry.start);
  return Basename(entry.path) + "+" + Hex(module.mapping.FileOffsetOf(address));
}

const std::vector<proto::LineInfo>& FrameSymbolizer::CodeWithoutFile(const Frame& frame,
                                                                     const UserModule& module) {
  perf_map_->Update();
  if (perf_map_->generation() != perf_map_generation_) {
    perf_map_generation_ = perf_map_->generation();
    code_without_file_previous_ = std::move(code_without_file_);
    code_without_file_.clear();
  }
  auto it = code_without_file_.find(frame.address);
  if (it != code_without_file_.end()) {
    ++cache_hits_;
    return it->second;
  }
  std::vector<proto::LineInfo> lines;
  if (std::optional<symbolizer::PerfMapSymbol> symbol = perf_map_->Find(frame.address)) {
    // Perf maps hold C++ symbols (LuaJIT, some C++ JITs) next to Java and JavaScript names.
    lines = Named(symbolizer::Demangle(symbol->name), std::string(symbol->name));
  } else {
    std::string name = ModuleOffsetName(module, frame.address);
    lines = Named(name, name);
  }
  return code_without_file_.emplace(frame.address, std::move(lines)).first->second;
}

const std::vector<proto::LineInfo>& FrameSymbolizer::Lines(const Frame& frame) {
  std::pair<std::string, uint64_t> key;
  switch (frame.module) {
    case kKernelModule:
      key = {"[kernel]", frame.address};
      break;
    case kMarkerModule:
      key = {"[marker]", frame.address};
      break;
    case kUnknownModule:
      key = {"[unknown]", frame.address};
      break;
    default: {
      const UserModule& module = normalizer_->user_module(frame.module);
      const StackNormalizer::FileIdentity& identity = normalizer_->file_identity(frame.module);
      if (!identity.had_file) return CodeWithoutFile(frame, module);
      key = {identity.symbol_key, module.mapping.VaddrOf(frame.address)};
      if (cache_.count(key) == 0 && !normalizer_->File(frame.module)) {
        return FileClosed(frame, module);
      }
    }
  }
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    ++cache_hits_;
    return it->second;
  }
  return cache_.emplace(key, Symbolize(frame)).first->second;
}

const std::vector<proto::LineInfo>& FrameSymbolizer::FileClosed(const Frame& frame,
                                                                const UserModule& module) {
  const auto key = std::make_pair(frame.module, frame.address);
  auto it = file_closed_.find(key);
  if (it != file_closed_.end()) return it->second;
  std::string name = ModuleOffsetName(module, frame.address);
  return file_closed_.emplace(key, Named(name, name)).first->second;
}

std::vector<proto::LineInfo> FrameSymbolizer::Symbolize(const Frame& frame) {
  auto named = [](std::string name) {
    proto::LineInfo line;
    line.function = name;
    line.system_name = std::move(name);
    return std::vector<proto::LineInfo>{line};
  };
  switch (frame.module) {
    case kKernelModule: {
      const symbolizer::KernelSymbol* symbol =
          kernel_symbols_ ? kernel_symbols_->Find(frame.address) : nullptr;
      if (symbol == nullptr) return named("[kernel]+" + Hex(frame.address));
      return named(symbol->module.empty() ? symbol->name
                                          : symbol->name + " [" + symbol->module + "]");
    }
    case kMarkerModule:
      return named(MarkerName(static_cast<Marker>(frame.address)));
    case kUnknownModule:
      return {};  // pprof shows the bare address
    default:
      break;
  }
  const UserModule& module = normalizer_->user_module(frame.module);
  std::shared_ptr<symbolizer::ElfFile> elf = normalizer_->File(frame.module);
  std::vector<symbolizer::SourceFrame> source;
  if (elf) source = elf->Symbolize(module.mapping.VaddrOf(frame.address));
  if (source.empty()) return named(ModuleOffsetName(module, frame.address));
  std::vector<proto::LineInfo> lines;
  lines.reserve(source.size());
  for (auto& sf : source) {
    proto::LineInfo line;
    line.function = std::move(sf.function);
    line.system_name = std::move(sf.system_name);
    line.filename = std::move(sf.file);
    line.line = sf.line;
    line.start_line = sf.start_line;
    lines.push_back(std::move(line));
  }
  return lines;
}

proto::MappingInfo FrameSymbolizer::MappingFor(uint32_t module_id) const {
  proto::MappingInfo info;
  if (module_id == kKernelModule) {
    info.memory_start = 0xffff800000000000ull;
    info.memory_limit = 0xffffffffffffffffull;
    info.filename = "[kernel]";
    info.has_functions = kernel_symbols_ != nullptr;
    return info;
  }
  const UserModule& module = normalizer_->user_module(module_id);
  const auto& entry = module.mapping.entry;
  info.memory_start = entry.start;
  info.memory_limit = entry.end;
  info.file_offset = entry.file_offset;
  info.filename = entry.path;
  // Every address of a user module gets a name (a function, or module+offset), so pprof must not
  // try to re-symbolize it: has_functions is always set.
  info.has_functions = true;
  const StackNormalizer::FileIdentity& identity = normalizer_->file_identity(module_id);
  if (identity.had_file) {
    info.build_id = identity.build_id;
    info.has_filenames = identity.has_line_info;
    info.has_line_numbers = identity.has_line_info;
    info.has_inline_frames = identity.has_line_info;
  }
  return info;
}

}  // namespace pprofd::profiles
