#include "proto/profile_builder.h"

#include <utility>

#include "base/log.h"

namespace pprofd::proto {

namespace pb = perftools::profiles;

ProfileBuilder::ProfileBuilder() {
  // pprof requires string_table[0] == "": index 0 doubles as "unset" in every string field.
  Intern("");
}

int64_t ProfileBuilder::Intern(std::string_view s) {
  auto it = strings_.find(s);
  if (it != strings_.end()) return it->second;
  auto index = static_cast<int64_t>(profile_.string_table_size());
  profile_.add_string_table(std::string(s));
  strings_.emplace(std::string(s), index);
  return index;
}

void ProfileBuilder::AddSampleType(std::string_view type, std::string_view unit) {
  pb::ValueType* value_type = profile_.add_sample_type();
  value_type->set_type(Intern(type));
  value_type->set_unit(Intern(unit));
}

void ProfileBuilder::SetPeriod(std::string_view type, std::string_view unit, int64_t period) {
  pb::ValueType* period_type = profile_.mutable_period_type();
  period_type->set_type(Intern(type));
  period_type->set_unit(Intern(unit));
  profile_.set_period(period);
}

void ProfileBuilder::SetTime(int64_t time_nanos, int64_t duration_nanos) {
  profile_.set_time_nanos(time_nanos);
  profile_.set_duration_nanos(duration_nanos);
}

void ProfileBuilder::AddComment(std::string_view comment) { profile_.add_comment(Intern(comment)); }

void ProfileBuilder::SetDefaultSampleType(std::string_view type) {
  profile_.set_default_sample_type(Intern(type));
}

uint64_t ProfileBuilder::AddMapping(const MappingInfo& mapping) {
  unsigned flags = (mapping.has_functions ? 1u : 0u) | (mapping.has_filenames ? 2u : 0u) |
                   (mapping.has_line_numbers ? 4u : 0u) | (mapping.has_inline_frames ? 8u : 0u);
  MappingKey key{mapping.memory_start,     mapping.memory_limit,     mapping.file_offset,
                 Intern(mapping.filename), Intern(mapping.build_id), flags};
  auto it = mappings_.find(key);
  if (it != mappings_.end()) return it->second;

  auto id = static_cast<uint64_t>(profile_.mapping_size()) + 1;
  pb::Mapping* m = profile_.add_mapping();
  m->set_id(id);
  m->set_memory_start(mapping.memory_start);
  m->set_memory_limit(mapping.memory_limit);
  m->set_file_offset(mapping.file_offset);
  m->set_filename(std::get<3>(key));
  m->set_build_id(std::get<4>(key));
  m->set_has_functions(mapping.has_functions);
  m->set_has_filenames(mapping.has_filenames);
  m->set_has_line_numbers(mapping.has_line_numbers);
  m->set_has_inline_frames(mapping.has_inline_frames);
  mappings_.emplace(std::move(key), id);
  return id;
}

uint64_t ProfileBuilder::InternFunction(const LineInfo& line) {
  FunctionKey key{Intern(line.function), Intern(line.system_name), Intern(line.filename),
                  line.start_line};
  auto it = functions_.find(key);
  if (it != functions_.end()) return it->second;

  auto id = static_cast<uint64_t>(profile_.function_size()) + 1;
  pb::Function* f = profile_.add_function();
  f->set_id(id);
  f->set_name(std::get<0>(key));
  f->set_system_name(std::get<1>(key));
  f->set_filename(std::get<2>(key));
  f->set_start_line(line.start_line);
  functions_.emplace(key, id);
  return id;
}

uint64_t ProfileBuilder::AddLocation(uint64_t mapping_id, uint64_t address,
                                     const std::vector<LineInfo>& lines) {
  if (mapping_id > static_cast<uint64_t>(profile_.mapping_size())) {
    RecordMisuse(StrCat("location 0x", std::hex, address, std::dec, ": unknown mapping id ",
                        mapping_id, " (", profile_.mapping_size(), " mappings)"));
    mapping_id = 0;
  }
  std::vector<std::pair<uint64_t, int64_t>> key_lines;
  key_lines.reserve(lines.size());
  for (const LineInfo& line : lines) key_lines.emplace_back(InternFunction(line), line.line);
  LocationKey key{mapping_id, address, std::move(key_lines)};
  auto it = locations_.find(key);
  if (it != locations_.end()) return it->second;

  auto id = static_cast<uint64_t>(profile_.location_size()) + 1;
  pb::Location* location = profile_.add_location();
  location->set_id(id);
  location->set_mapping_id(mapping_id);
  location->set_address(address);
  for (const auto& [function_id, line_number] : std::get<2>(key)) {
    pb::Line* line = location->add_line();
    line->set_function_id(function_id);
    line->set_line(line_number);
  }
  locations_.emplace(std::move(key), id);
  return id;
}

void ProfileBuilder::AddSample(const std::vector<uint64_t>& location_ids,
                               const std::vector<int64_t>& values,
                               const std::vector<Label>& labels) {
  if (values.size() != static_cast<size_t>(profile_.sample_type_size())) {
    RecordMisuse(StrCat("sample with ", values.size(), " values for ", profile_.sample_type_size(),
                        " sample types"));
    ++dropped_samples_;
    return;
  }
  for (uint64_t id : location_ids) {
    if (id == 0 || id > static_cast<uint64_t>(profile_.location_size())) {
      RecordMisuse(StrCat("sample with unknown location id ", id, " (", profile_.location_size(),
                          " locations)"));
      ++dropped_samples_;
      return;
    }
  }
  pb::Sample* sample = profile_.add_sample();
  sample->mutable_location_id()->Add(location_ids.begin(), location_ids.end());
  sample->mutable_value()->Add(values.begin(), values.end());
  for (const Label& label : labels) {
    pb::Label* out = sample->add_label();
    out->set_key(Intern(label.key));
    if (!label.str.empty()) {
      out->set_str(Intern(label.str));
    } else {
      out->set_num(label.num);
      if (!label.num_unit.empty()) out->set_num_unit(Intern(label.num_unit));
    }
  }
}

void ProfileBuilder::RecordMisuse(std::string message) {
  if (first_misuse_.empty()) first_misuse_ = std::move(message);
}

Status ProfileBuilder::status() const {
  if (first_misuse_.empty()) return Status::Ok();
  return Status::Error(StrCat("profile builder misused: ", first_misuse_, "; ", dropped_samples_,
                              " samples dropped"));
}

std::string ProfileBuilder::SerializeUncompressed() const {
  std::string out;
  profile_.SerializeToString(&out);
  return out;
}

std::string ProfileBuilder::SerializeGzipped() const { return Gzip(SerializeUncompressed()); }

}  // namespace pprofd::proto
