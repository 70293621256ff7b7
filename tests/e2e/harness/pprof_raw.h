// Reads what `go tool pprof -raw` prints, so the end-to-end tests check the profile as the real
// client decoded it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pprofd::e2e {

struct RawLine {
  std::string function;
  std::string file;
  int64_t line = 0;
};

struct RawLocation {
  uint64_t address = 0;
  int mapping = 0;
  std::vector<RawLine> lines;  // innermost first, as pprof prints them
};

struct RawSample {
  std::vector<int64_t> values;
  std::vector<int> locations;                 // leaf first
  std::map<std::string, std::string> labels;  // "thread_name" -> "alpha", "thread_id" -> "123"
};

struct RawMapping {
  uint64_t start = 0;  // memory start, limit and file offset, as in /proc/PID/maps
  uint64_t limit = 0;
  uint64_t offset = 0;
  std::string file;
  std::string build_id;
  std::string flags;  // e.g. "[FN][FL][LN][IN]"
};

struct RawProfile {
  std::vector<std::string> comments;
  std::string period_type;
  int64_t period = 0;
  std::vector<RawSample> samples;
  std::map<int, RawLocation> locations;
  std::map<int, RawMapping> mappings;

  // Function names of one sample, leaf first, inline frames included.
  std::vector<std::string> Functions(const RawSample& sample) const;
  int64_t TotalCount() const;  // sum of values[0]
};

bool ParseRaw(const std::string& text, RawProfile* profile, std::string* error);

}  // namespace pprofd::e2e
