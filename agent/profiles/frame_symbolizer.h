// Turns normalized frames into pprof mappings and locations with functions, files, lines and
// inline chains. Results are cached per (file identity, address) across requests: a profile
// symbolizes each unique address once, and a second profile of the same code almost never
// touches DWARF.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/profiles/frames.h"
#include "agent/profiles/stack_normalizer.h"
#include "proto/profile_builder.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/perf_map_reader.h"

namespace pprofd::profiles {

class FrameSymbolizer {
 public:
  // `kernel_symbols` may be null (kallsyms unreadable): kernel frames then show as addresses.
  // Code outside ELF files (JIT) is named from the target's perf map, read as the profiles ask.
  FrameSymbolizer(StackNormalizer* normalizer, const symbolizer::KernelSymbols* kernel_symbols,
                  symbolizer::PerfMapReader::Options perf_map_options = {});

  // Lines for `frame`, innermost first; a single line naming the module and offset when the
  // address lies in no function.
  const std::vector<proto::LineInfo>& Lines(const Frame& frame);
  // The pprof mapping describing the module of `frame` (memory range, file, build-id, has_*).
  proto::MappingInfo MappingFor(uint32_t module_id) const;
  // "libfoo.so+0x1a2b": what a frame is called when no symbol covers it. Code in anonymous
  // memory has no file: "[anon]+0x40" or, for memory named with PR_SET_VMA_ANON_NAME,
  // "[anon:v8]+0x40", the offset counted from the start of the mapping.
  std::string ModuleOffsetName(const UserModule& module, uint64_t address) const;

  size_t cache_size() const { return cache_.size(); }
  uint64_t cache_hits() const { return cache_hits_; }

 private:
  std::vector<proto::LineInfo> Symbolize(const Frame& frame);
  // Code that belongs to no ELF file (JIT, anonymous memory): a perf map name, or the module
  // and offset.
  const std::vector<proto::LineInfo>& CodeWithoutFile(const Frame& frame, const UserModule& module);
  // A module whose file was closed (it left the target's maps and was not used for long): named
  // module+offset unless the same file (build-id) named the address before.
  const std::vector<proto::LineInfo>& FileClosed(const Frame& frame, const UserModule& module);

  StackNormalizer* normalizer_;
  const symbolizer::KernelSymbols* kernel_symbols_;
  // Key: build-id (or path when none) and link-time address; kernel and markers use their own.
  std::map<std::pair<std::string, uint64_t>, std::vector<proto::LineInfo>> cache_;
  // By module id and address: never shared with another module or a later file at that address.
  std::map<std::pair<uint32_t, uint64_t>, std::vector<proto::LineInfo>> file_closed_;
  uint64_t cache_hits_ = 0;
  // Names of code without a file by address, valid for one generation of the perf map. The
  // previous generation's stay alive one generation longer: a caller may still hold a reference.
  std::unique_ptr<symbolizer::PerfMapReader> perf_map_;
  uint64_t perf_map_generation_ = 0;
  std::map<uint64_t, std::vector<proto::LineInfo>> code_without_file_;
  std::map<uint64_t, std::vector<proto::LineInfo>> code_without_file_previous_;
};

}  // namespace pprofd::profiles
