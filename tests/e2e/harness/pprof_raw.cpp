#include "tests/e2e/harness/pprof_raw.h"

#include <regex>
#include <sstream>

namespace pprofd::e2e {
namespace {

// "name file:line s=N" or "name file:line s=N(system name)"; names may hold spaces.
RawLine ParseFunctionLine(std::string text) {
  RawLine line;
  size_t s = text.rfind(" s=");
  if (s != std::string::npos) {
    // A system name in parentheses may itself contain " s=": search before the first '(' after.
    text = text.substr(0, s);
  }
  size_t space = text.rfind(' ');
  std::string where = space == std::string::npos ? "" : text.substr(space + 1);
  line.function = space == std::string::npos ? text : text.substr(0, space);
  size_t colon = where.rfind(':');
  if (colon != std::string::npos) {
    line.file = where.substr(0, colon);
    line.line = std::atoll(where.c_str() + colon + 1);
  }
  return line;
}

}  // namespace

std::vector<std::string> RawProfile::Functions(const RawSample& sample) const {
  std::vector<std::string> names;
  for (int id : sample.locations) {
    auto it = locations.find(id);
    if (it == locations.end()) continue;
    for (const auto& line : it->second.lines) names.push_back(line.function);
  }
  return names;
}

int64_t RawProfile::TotalCount() const {
  int64_t total = 0;
  for (const auto& sample : samples) total += sample.values.empty() ? 0 : sample.values[0];
  return total;
}

bool ParseRaw(const std::string& text, RawProfile* profile, std::string* error) {
  enum class Section { kHeader, kSamples, kLocations, kMappings } section = Section::kHeader;
  static const std::regex kSample(R"(^\s+([-\d ]+): ([\d ]*)$)");
  // pprof prints string labels on one line ("state:[sleeping] thread_name:[worker]") and numeric
  // ones on the next.
  static const std::regex kLabelLine(R"(^\s+\w+:\[.*\]$)");
  static const std::regex kLabel(R"((\w+):\[([^\]]*)\])");
  // Markers have no mapping: pprof prints no "M=" for them.
  static const std::regex kLocation(R"(^\s*(\d+): 0x([0-9a-f]+)(?: M=(\d+))?\s?(.*)$)");
  static const std::regex kMapping(
      R"(^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S*) ?(\S*) ?(.*)$)");
  std::istringstream in(text);
  std::string line;
  RawLocation* current_location = nullptr;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.rfind("Comment: ", 0) == 0) {
      profile->comments.push_back(line.substr(9));
      continue;
    }
    if (line.rfind("PeriodType: ", 0) == 0) {
      profile->period_type = line.substr(12);
      continue;
    }
    if (line.rfind("Period: ", 0) == 0) {
      profile->period = std::atoll(line.c_str() + 8);
      continue;
    }
    if (line == "Samples:") {
      section = Section::kSamples;
      std::getline(in, line);  // sample type names
      continue;
    }
    if (line == "Locations") {
      section = Section::kLocations;
      continue;
    }
    if (line == "Mappings") {
      section = Section::kMappings;
      continue;
    }
    switch (section) {
      case Section::kHeader:
        break;
      case Section::kSamples:
        if (std::regex_match(line, m, kSample)) {
          RawSample sample;
          std::istringstream values(m[1].str()), ids(m[2].str());
          for (int64_t v; values >> v;) sample.values.push_back(v);
          for (int id; ids >> id;) sample.locations.push_back(id);
          profile->samples.push_back(std::move(sample));
        } else if (std::regex_match(line, kLabelLine) && !profile->samples.empty()) {
          for (auto it = std::sregex_iterator(line.begin(), line.end(), kLabel);
               it != std::sregex_iterator(); ++it) {
            profile->samples.back().labels[(*it)[1].str()] = (*it)[2].str();
          }
        }
        break;
      case Section::kLocations:
        if (std::regex_match(line, m, kLocation)) {
          RawLocation location;
          location.address = std::stoull(m[2].str(), nullptr, 16);
          location.mapping = m[3].matched ? std::stoi(m[3].str()) : 0;
          if (!m[4].str().empty()) location.lines.push_back(ParseFunctionLine(m[4].str()));
          current_location = &profile->locations[std::stoi(m[1].str())];
          *current_location = std::move(location);
        } else if (current_location != nullptr &&
                   line.find_first_not_of(' ') != std::string::npos &&
                   line.find_first_not_of(' ') >= 8) {
          current_location->lines.push_back(
              ParseFunctionLine(line.substr(line.find_first_not_of(' '))));
        }
        break;
      case Section::kMappings:
        if (std::regex_match(line, m, kMapping)) {
          RawMapping mapping;
          mapping.start = std::stoull(m[2].str(), nullptr, 16);
          mapping.limit = std::stoull(m[3].str(), nullptr, 16);
          mapping.offset = std::stoull(m[4].str(), nullptr, 16);
          mapping.file = m[5].str();
          mapping.build_id = m[6].str();
          mapping.flags = m[7].str();
          if (mapping.build_id.rfind("[", 0) == 0) {
            mapping.flags = mapping.build_id + " " + mapping.flags;
            mapping.build_id.clear();
          }
          profile->mappings[std::stoi(m[1].str())] = mapping;
        }
        break;
    }
  }
  if (profile->samples.empty()) {
    *error = "no samples in the pprof -raw output:\n" + text.substr(0, 2000);
    return false;
  }
  return true;
}

}  // namespace pprofd::e2e
