// The checker must be able to fail: each broken profile must produce the matching violation.
#include "tests/proto/pprof_invariants.h"

#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "proto/profile_builder.h"
#include "tests/proto/sample_profile.h"

namespace pprofd::testing {
namespace {

namespace pb = perftools::profiles;

bool Mentions(const std::vector<std::string>& violations, const std::string& needle) {
  for (const std::string& v : violations) {
    if (v.find(needle) != std::string::npos) return true;
  }
  return false;
}

struct Breakage {
  const char* name;
  std::function<void(pb::Profile*)> apply;
  const char* expected;
};

TEST_CASE("CheckProfileInvariants reports each kind of violation", "[proto][invariants]") {
  proto::ProfileBuilder builder;
  proto::testing::BuildSampleProfile(&builder);
  REQUIRE(CheckProfileInvariants(builder.profile()).empty());

  const int64_t past_end = builder.profile().string_table_size();
  auto breakage = GENERATE_COPY(
      Breakage{"string 0 not empty", [](pb::Profile* p) { p->set_string_table(0, "x"); },
               "string_table[0]"},
      Breakage{"empty string table", [](pb::Profile* p) { p->clear_string_table(); },
               "string_table is empty"},
      Breakage{"duplicate string", [](pb::Profile* p) { p->add_string_table("cpu"); },
               "more than once"},
      Breakage{"no sample type", [](pb::Profile* p) { p->clear_sample_type(); }, "no sample_type"},
      Breakage{"sample type string out of range",
               [=](pb::Profile* p) { p->mutable_sample_type(1)->set_unit(past_end); },
               "sample_type[1].unit: string index"},
      Breakage{"comment out of range", [=](pb::Profile* p) { p->add_comment(past_end + 5); },
               "comment[2]"},
      Breakage{"negative string index",
               [](pb::Profile* p) { p->mutable_function(0)->set_name(-1); }, "function[0]"},
      Breakage{"default type unknown",
               [](pb::Profile* p) { p->set_default_sample_type(p->comment(0)); },
               "default_sample_type"},
      Breakage{"mapping id 0", [](pb::Profile* p) { p->mutable_mapping(1)->set_id(0); },
               "mapping[1] id=0: id is 0"},
      Breakage{"duplicate mapping id", [](pb::Profile* p) { p->mutable_mapping(1)->set_id(1); },
               "duplicate id"},
      Breakage{"mapping limit below start",
               [](pb::Profile* p) { p->mutable_mapping(0)->set_memory_limit(1); },
               "below memory_start"},
      Breakage{"location with unknown mapping",
               [](pb::Profile* p) { p->mutable_location(0)->set_mapping_id(77); },
               "unknown mapping_id 77"},
      Breakage{"line with unknown function",
               [](pb::Profile* p) { p->mutable_location(0)->mutable_line(1)->set_function_id(99); },
               "unknown function_id 99"},
      Breakage{"duplicate location id",
               [](pb::Profile* p) { p->mutable_location(1)->set_id(p->location(0).id()); },
               "duplicate id"},
      Breakage{"duplicate location content",
               [](pb::Profile* p) {
                 *p->add_location() = p->location(0);
                 p->mutable_location(p->location_size() - 1)->set_id(1000);
               },
               "same mapping, address and lines"},
      Breakage{"duplicate function content",
               [](pb::Profile* p) {
                 *p->add_function() = p->function(0);
                 p->mutable_function(p->function_size() - 1)->set_id(1000);
               },
               "as an earlier function"},
      Breakage{"sample with unknown location",
               [](pb::Profile* p) { p->mutable_sample(0)->add_location_id(555); },
               "unknown location_id 555"},
      Breakage{"sample with too few values",
               [](pb::Profile* p) { p->mutable_sample(2)->mutable_value()->RemoveLast(); },
               "sample[2]: 1 values for 2 sample types"},
      Breakage{"label with empty key",
               [](pb::Profile* p) { p->mutable_sample(0)->mutable_label(0)->set_key(0); },
               "empty key"},
      Breakage{"label both string and number",
               [](pb::Profile* p) { p->mutable_sample(0)->mutable_label(1)->set_num(3); },
               "both a string and a number"});

  pb::Profile broken = builder.profile();
  breakage.apply(&broken);
  std::vector<std::string> violations = CheckProfileInvariants(broken);
  INFO(breakage.name);
  for (const std::string& v : violations) UNSCOPED_INFO(v);
  CHECK(Mentions(violations, breakage.expected));
}

}  // namespace
}  // namespace pprofd::testing
