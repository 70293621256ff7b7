// Builds a pprof profile (proto/profile.proto): string table, dedup of mappings, functions and
// locations, gzip. Knows nothing of BPF or the agent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

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
  std::string str;   // string label when non-empty
  int64_t num = 0;   // numeric label otherwise
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
  // first (inline chain). mapping_id 0 means no mapping.
  uint64_t AddLocation(uint64_t mapping_id, uint64_t address, const std::vector<LineInfo>& lines);
  // `location_ids` leaf first. values in the order of the sample types.
  void AddSample(const std::vector<uint64_t>& location_ids, const std::vector<int64_t>& values,
                 const std::vector<Label>& labels = {});

  const perftools::profiles::Profile& profile() const { return profile_; }
  std::string SerializeUncompressed() const;
  std::string SerializeGzipped() const;

 private:
  int64_t Intern(std::string_view s);
  uint64_t InternFunction(const LineInfo& line);

  perftools::profiles::Profile profile_;
  std::unordered_map<std::string, int64_t> strings_;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, uint64_t> functions_;
  std::map<std::string, uint64_t> mappings_;   // serialized MappingInfo -> id
  std::map<std::string, uint64_t> locations_;  // serialized key -> id
};

// gzip (RFC 1952) of `data`, as pprof expects; used by the builder and by tests.
std::string Gzip(std::string_view data);
// For tests and the symbol endpoint: inverse of Gzip; empty optional-like "" on error is not
// distinguishable, so it returns false on corrupt input.
bool Gunzip(std::string_view data, std::string* out);

}  // namespace pprofd::proto
