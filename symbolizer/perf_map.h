// Perf map files: how JIT compilers name the code they generate. A process writes
// /tmp/perf-PID.map (PID as seen in its own PID namespace) with one line per function,
//   START SIZE name
// START and SIZE in hex, with or without "0x" (node --perf-basic-prof, Java's perf-map-agent and
// `jcmd Compiler.perfmap`, .NET, LuaJIT, Python 3.12 -X perf). The file only grows: code that
// moves or is recompiled gets a new line, and the latest line covering an address wins.
//
// The target writes this file, so nothing in it is trusted: the parser takes bytes, does no I/O,
// bounds lines and entries, and skips what it cannot read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pprofd::symbolizer {

struct PerfMapLimits {
  // Longer lines are skipped (a real one is a few hundred bytes: a name and a source path).
  size_t max_line_bytes = 4096;
  // Entries kept by one PerfMapIndex; later lines are ignored past it.
  size_t max_entries = size_t{1} << 20;
};

struct PerfMapEntry {
  uint64_t start = 0;
  uint64_t size = 0;
  std::string_view name;  // points into the parsed text
};

struct PerfMapParse {
  std::vector<PerfMapEntry> entries;  // in file order
  // Bytes up to the end of the last newline-terminated line: a reader continues from there. A last
  // line without its newline is parsed too (the file may never get one) but not counted, so it is
  // read again once complete (the writer may be in the middle of it).
  size_t consumed = 0;
  size_t malformed_lines = 0;  // lines that are not "START SIZE name"
  size_t long_lines = 0;       // lines over max_line_bytes
  bool entry_limit_reached = false;
};

// Parses at most `limits.max_entries` entries of `text`.
PerfMapParse ParsePerfMap(std::string_view text, const PerfMapLimits& limits = {});

struct PerfMapSymbol {
  uint64_t start = 0;  // where the named code starts
  std::string_view name;
};

// The entries read so far, as disjoint ranges: a later entry replaces whatever earlier ones it
// overlaps (code recompiled at the same place), as in perf. Lookups are O(log n).
class PerfMapIndex {
 public:
  explicit PerfMapIndex(size_t max_entries = PerfMapLimits().max_entries)
      : max_entries_(max_entries) {}

  // Adds `entries` in order; false (and stops) once max_entries ranges are held.
  bool Add(const std::vector<PerfMapEntry>& entries);
  // The entry covering `address`; the name stays valid until Clear().
  std::optional<PerfMapSymbol> Find(uint64_t address) const;
  size_t size() const { return ranges_.size(); }
  void Clear();

 private:
  struct Range {
    uint64_t end = 0;    // exclusive
    uint64_t start = 0;  // where the entry started (a trimmed range keeps its symbol's start)
    uint32_t name_offset = 0;
    uint32_t name_size = 0;
  };
  void Insert(uint64_t start, uint64_t end, const Range& range);

  size_t max_entries_;
  std::map<uint64_t, Range> ranges_;  // key: first address of the range
  std::string names_;                 // every name added, back to back
};

}  // namespace pprofd::symbolizer
