#include "tests/proto/pprof_invariants.h"

#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "base/log.h"

namespace pprofd::testing {
namespace {

namespace pb = perftools::profiles;

class Checker {
 public:
  explicit Checker(const pb::Profile& profile) : p_(profile) {}

  std::vector<std::string> Run() {
    CheckStringTable();
    CheckHeader();
    CheckMappings();
    CheckFunctions();
    CheckLocations();
    CheckSamples();
    return std::move(violations_);
  }

 private:
  template <typename... Args>
  void Fail(const Args&... args) {
    violations_.push_back(StrCat(args...));
  }

  void CheckString(int64_t index, const std::string& what) {
    if (index < 0 || index >= p_.string_table_size()) {
      Fail(what, ": string index ", index, " outside the string table (", p_.string_table_size(),
           " entries)");
    }
  }

  const std::string& Str(int64_t index) const {
    static const std::string kInvalid = "<invalid>";
    return index >= 0 && index < p_.string_table_size() ? p_.string_table(index) : kInvalid;
  }

  void CheckStringTable() {
    if (p_.string_table_size() == 0) {
      Fail("string_table is empty; entry 0 must be \"\"");
    } else if (!p_.string_table(0).empty()) {
      Fail("string_table[0] is \"", p_.string_table(0), "\", must be \"\"");
    }
    std::set<std::string> seen;
    for (const std::string& s : p_.string_table()) {
      if (!seen.insert(s).second) Fail("string_table holds \"", s, "\" more than once");
    }
  }

  void CheckValueType(const pb::ValueType& v, const std::string& what) {
    CheckString(v.type(), what + ".type");
    CheckString(v.unit(), what + ".unit");
  }

  void CheckHeader() {
    if (p_.sample_type_size() == 0) Fail("no sample_type");
    std::set<std::string> types;
    for (int i = 0; i < p_.sample_type_size(); ++i) {
      CheckValueType(p_.sample_type(i), StrCat("sample_type[", i, "]"));
      types.insert(Str(p_.sample_type(i).type()));
    }
    if (p_.has_period_type()) CheckValueType(p_.period_type(), "period_type");
    if (p_.period() < 0) Fail("period ", p_.period(), " is negative");
    if (p_.duration_nanos() < 0) Fail("duration_nanos ", p_.duration_nanos(), " is negative");
    CheckString(p_.drop_frames(), "drop_frames");
    CheckString(p_.keep_frames(), "keep_frames");
    for (int i = 0; i < p_.comment_size(); ++i) {
      CheckString(p_.comment(i), StrCat("comment[", i, "]"));
    }
    CheckString(p_.default_sample_type(), "default_sample_type");
    if (p_.default_sample_type() != 0 && !types.count(Str(p_.default_sample_type()))) {
      Fail("default_sample_type \"", Str(p_.default_sample_type()), "\" is not a sample type");
    }
  }

  void CheckMappings() {
    for (int i = 0; i < p_.mapping_size(); ++i) {
      const pb::Mapping& m = p_.mapping(i);
      std::string what = StrCat("mapping[", i, "] id=", m.id());
      if (m.id() == 0) Fail(what, ": id is 0");
      if (!mapping_ids_.insert(m.id()).second) Fail(what, ": duplicate id");
      CheckString(m.filename(), what + " filename");
      CheckString(m.build_id(), what + " build_id");
      if (m.memory_limit() != 0 && m.memory_limit() < m.memory_start()) {
        Fail(what, ": memory_limit 0x", std::hex, m.memory_limit(), " below memory_start 0x",
             m.memory_start());
      }
    }
  }

  void CheckFunctions() {
    std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> contents;
    for (int i = 0; i < p_.function_size(); ++i) {
      const pb::Function& f = p_.function(i);
      std::string what = StrCat("function[", i, "] id=", f.id());
      if (f.id() == 0) Fail(what, ": id is 0");
      if (!function_ids_.insert(f.id()).second) Fail(what, ": duplicate id");
      CheckString(f.name(), what + " name");
      CheckString(f.system_name(), what + " system_name");
      CheckString(f.filename(), what + " filename");
      if (!contents.insert({f.name(), f.system_name(), f.filename(), f.start_line()}).second) {
        Fail(what, ": same name, system_name, filename and start_line as an earlier function (",
             Str(f.name()), ")");
      }
    }
  }

  void CheckLocations() {
    std::set<std::tuple<uint64_t, uint64_t, std::vector<std::pair<uint64_t, int64_t>>>> contents;
    for (int i = 0; i < p_.location_size(); ++i) {
      const pb::Location& l = p_.location(i);
      std::string what = StrCat("location[", i, "] id=", l.id());
      if (l.id() == 0) Fail(what, ": id is 0");
      if (!location_ids_.insert(l.id()).second) Fail(what, ": duplicate id");
      if (l.mapping_id() != 0 && !mapping_ids_.count(l.mapping_id())) {
        Fail(what, ": unknown mapping_id ", l.mapping_id());
      }
      std::vector<std::pair<uint64_t, int64_t>> lines;
      for (int j = 0; j < l.line_size(); ++j) {
        const pb::Line& line = l.line(j);
        if (!function_ids_.count(line.function_id())) {
          Fail(what, " line[", j, "]: unknown function_id ", line.function_id());
        }
        lines.emplace_back(line.function_id(), line.line());
      }
      if (!contents.insert({l.mapping_id(), l.address(), std::move(lines)}).second) {
        Fail(what, ": same mapping, address and lines as an earlier location");
      }
    }
  }

  void CheckSamples() {
    for (int i = 0; i < p_.sample_size(); ++i) {
      const pb::Sample& s = p_.sample(i);
      std::string what = StrCat("sample[", i, "]");
      if (s.value_size() != p_.sample_type_size()) {
        Fail(what, ": ", s.value_size(), " values for ", p_.sample_type_size(), " sample types");
      }
      for (uint64_t id : s.location_id()) {
        if (!location_ids_.count(id)) Fail(what, ": unknown location_id ", id);
      }
      for (int j = 0; j < s.label_size(); ++j) {
        const pb::Label& label = s.label(j);
        std::string label_what = StrCat(what, " label[", j, "]");
        CheckString(label.key(), label_what + " key");
        CheckString(label.str(), label_what + " str");
        CheckString(label.num_unit(), label_what + " num_unit");
        if (label.key() == 0) Fail(label_what, ": empty key");
        if (label.str() != 0 && (label.num() != 0 || label.num_unit() != 0)) {
          Fail(label_what, " (", Str(label.key()), "): both a string and a number");
        }
      }
    }
  }

  const pb::Profile& p_;
  std::set<uint64_t> mapping_ids_;
  std::set<uint64_t> function_ids_;
  std::set<uint64_t> location_ids_;
  std::vector<std::string> violations_;
};

}  // namespace

std::vector<std::string> CheckProfileInvariants(const perftools::profiles::Profile& profile) {
  return Checker(profile).Run();
}

}  // namespace pprofd::testing
