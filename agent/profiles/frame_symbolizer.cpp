#include "agent/profiles/frame_symbolizer.h"

#include "base/log.h"

namespace pprofd::profiles {
namespace {

std::string Hex(uint64_t value) { return StrCat("0x", std::hex, value); }

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

FrameSymbolizer::FrameSymbolizer(StackNormalizer* normalizer,
                                 const symbolizer::KernelSymbols* kernel_symbols)
    : normalizer_(normalizer), kernel_symbols_(kernel_symbols) {}

std::string FrameSymbolizer::ModuleOffsetName(const UserModule& module, uint64_t address) const {
  return Basename(module.mapping.entry.path) + "+" + Hex(module.mapping.FileOffsetOf(address));
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
      const auto& elf = module.mapping.elf;
      std::string identity = !elf                      ? module.mapping.entry.path
                             : elf->build_id().empty() ? elf->path()
                                                       : elf->build_id();
      key = {identity, elf ? module.mapping.VaddrOf(frame.address) : frame.address};
    }
  }
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    ++cache_hits_;
    return it->second;
  }
  return cache_.emplace(key, Symbolize(frame)).first->second;
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
  if (!module.mapping.elf) return named(ModuleOffsetName(module, frame.address));
  std::vector<symbolizer::SourceFrame> source =
      module.mapping.elf->Symbolize(module.mapping.VaddrOf(frame.address));
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
  if (module.mapping.elf) {
    info.build_id = module.mapping.elf->build_id();
    info.has_filenames = module.mapping.elf->has_line_info();
    info.has_line_numbers = module.mapping.elf->has_line_info();
    info.has_inline_frames = module.mapping.elf->has_line_info();
  }
  return info;
}

}  // namespace pprofd::profiles
