// Builds a pprof profile (proto/profile.proto): string table, dedup of mappings, functions and
// locations, gzip. Knows nothing of BPF or the agent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "proto/profile.pb.h"

namespace pprofd::proto {

struct MappingInfo {
  uint64_t memory_start = 0;
  uint64_t memory_limit = 0;
  uint64_t file_offset = 0;
  std::string filename;
  std::string build_id;
  bool has_functions = false;
  bool has_filenames = false;
  bool has_line_numbers = false;
  bool has_inline_frames = false;
};

struct LineInfo {
  std::string function;     // demangled
  std::string system_name;  // mangled
  std::string filename;
  int64_t start_line = 0;
  int64_t line = 0;
};

struct Label {
  std::string key;
  std::string str;  // string label when non-empty
  int64_t num = 0;  // numeric label otherwise
  std::string num_unit;
};

class ProfileBuilder {
 public:
  ProfileBuilder();

  void AddSampleType(std::string_view type, std::string_view unit);
  void SetPeriod(std::string_view type, std::string_view unit, int64_t period);
  void SetTime(int64_t time_nanos, int64_t duration_nanos);
  void AddComment(std::string_view comment);
  void SetDefaultSampleType(std::string_view type);

  // Returns the mapping id (1-based). The first mapping added becomes mapping[0]: add the main
  // executable first. Mappings are deduplicated on every field.
  uint64_t AddMapping(const MappingInfo& mapping);
  // Returns the location id; deduplicated by (mapping_id, address, lines). `lines` innermost
  // first (inline chain). mapping_id 0 means no mapping. Functions are deduplicated by
  // (function, system_name, filename, start_line). An unknown mapping_id is a caller bug: it is
  // recorded in status() and the location gets no mapping.
  uint64_t AddLocation(uint64_t mapping_id, uint64_t address, const std::vector<LineInfo>& lines);
  // `location_ids` leaf first. values in the order of the sample types. A sample with an unknown
  // location id or with a value count different from the sample type count is a caller bug: it
  // is dropped and recorded in status(), so the profile stays valid for pprof.
  void AddSample(const std::vector<uint64_t>& location_ids, const std::vector<int64_t>& values,
                 const std::vector<Label>& labels = {});

  const perftools::profiles::Profile& profile() const { return profile_; }
  std::string SerializeUncompressed() const;
  std::string SerializeGzipped() const;

  // Ok unless a call above was misused; then the first misuse, with the count of dropped
  // samples. The profile itself is valid either way.
  Status status() const;

 private:
  // Lets the string table be probed with a string_view without building a std::string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // (memory_start, memory_limit, file_offset, filename, build_id, has_* bits)
  using MappingKey = std::tuple<uint64_t, uint64_t, uint64_t, int64_t, int64_t, unsigned>;
  // (name, system_name, filename, start_line), strings as string table indices.
  using FunctionKey = std::tuple<int64_t, int64_t, int64_t, int64_t>;
  // (mapping_id, address, [(function_id, line)...])
  using LocationKey = std::tuple<uint64_t, uint64_t, std::vector<std::pair<uint64_t, int64_t>>>;

  int64_t Intern(std::string_view s);
  uint64_t InternFunction(const LineInfo& line);
  void RecordMisuse(std::string message);

  perftools::profiles::Profile profile_;
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> strings_;
  std::map<FunctionKey, uint64_t> functions_;
  std::map<MappingKey, uint64_t> mappings_;
  std::map<LocationKey, uint64_t> locations_;
  std::string first_misuse_;
  uint64_t dropped_samples_ = 0;
};

// gzip (RFC 1952) of `data`, as pprof expects; used by the builder and by tests. Fastest level,
// as Go's runtime/pprof does: the response has a deadline and profiles compress well anyway.
// Empty only if zlib fails (out of memory).
std::string Gzip(std::string_view data);
// Inverse of Gzip, for tests. Returns false on corrupt or truncated input or trailing bytes; `out`
// then holds what was decoded so far. No output limit: do not feed it untrusted input.
bool Gunzip(std::string_view data, std::string* out);

}  // namespace pprofd::proto
