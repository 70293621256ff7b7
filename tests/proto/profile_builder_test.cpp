#include "proto/profile_builder.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "tests/proto/pprof_invariants.h"
#include "tests/proto/sample_profile.h"

namespace pprofd::proto {
namespace {

namespace pb = perftools::profiles;
using pprofd::testing::CheckProfileInvariants;

const std::string& Str(const pb::Profile& p, int64_t index) { return p.string_table(index); }

const pb::Function& FunctionById(const pb::Profile& p, uint64_t id) {
  for (const pb::Function& f : p.function()) {
    if (f.id() == id) return f;
  }
  FAIL("no function with id " << id);
  return p.function(0);
}

const pb::Location& LocationById(const pb::Profile& p, uint64_t id) {
  for (const pb::Location& l : p.location()) {
    if (l.id() == id) return l;
  }
  FAIL("no location with id " << id);
  return p.location(0);
}

// Decodes what a client would receive.
pb::Profile RoundTrip(const ProfileBuilder& builder) {
  std::string gz = builder.SerializeGzipped();
  REQUIRE(gz.size() > 2);
  CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
  std::string raw;
  REQUIRE(Gunzip(gz, &raw));
  CHECK(raw == builder.SerializeUncompressed());
  pb::Profile decoded;
  REQUIRE(decoded.ParseFromString(raw));
  return decoded;
}

TEST_CASE("Round trip through gzip keeps every field and every invariant", "[proto]") {
  ProfileBuilder builder;
  testing::BuildSampleProfile(&builder);
  REQUIRE(builder.status().ok());
  pb::Profile p = RoundTrip(builder);

  std::vector<std::string> violations = CheckProfileInvariants(p);
  INFO("violations: " << violations.size());
  for (const std::string& v : violations) UNSCOPED_INFO(v);
  CHECK(violations.empty());

  REQUIRE(p.string_table_size() > 0);
  CHECK(p.string_table(0).empty());

  REQUIRE(p.sample_type_size() == 2);
  CHECK(Str(p, p.sample_type(0).type()) == "samples");
  CHECK(Str(p, p.sample_type(0).unit()) == "count");
  CHECK(Str(p, p.sample_type(1).type()) == "cpu");
  CHECK(Str(p, p.sample_type(1).unit()) == "nanoseconds");
  CHECK(Str(p, p.period_type().type()) == "cpu");
  CHECK(Str(p, p.period_type().unit()) == "nanoseconds");
  CHECK(p.period() == 10'000'000);
  CHECK(p.time_nanos() == 1'700'000'000'000'000'000);
  CHECK(p.duration_nanos() == 5'000'000'000);
  CHECK(Str(p, p.default_sample_type()) == "cpu");
  REQUIRE(p.comment_size() == 2);
  CHECK(Str(p, p.comment(0)) == "pprofd test profile");
  CHECK(Str(p, p.comment(1)) == "lost samples: 0");

  // Mappings: ids 1..n in insertion order, main executable first, flags as given.
  REQUIRE(p.mapping_size() == 3);
  for (int i = 0; i < p.mapping_size(); ++i) CHECK(p.mapping(i).id() == uint64_t(i) + 1);
  const pb::Mapping& main_map = p.mapping(0);
  CHECK(Str(p, main_map.filename()) == testing::kMainBinary);
  CHECK(Str(p, main_map.build_id()) == testing::kMainBuildId);
  CHECK(main_map.memory_start() == 0x400000);
  CHECK(main_map.memory_limit() == 0x500000);
  CHECK(main_map.has_functions());
  CHECK(main_map.has_filenames());
  CHECK(main_map.has_line_numbers());
  CHECK(main_map.has_inline_frames());
  CHECK(p.mapping(1).file_offset() == 0x28000);
  const pb::Mapping& stripped = p.mapping(2);
  CHECK(stripped.has_functions());
  CHECK_FALSE(stripped.has_filenames());
  CHECK_FALSE(stripped.has_line_numbers());
  CHECK_FALSE(stripped.has_inline_frames());

  REQUIRE(p.sample_size() == 3);
  // The leaf of sample 0 carries the inline chain, innermost first, on one location.
  const pb::Sample& s0 = p.sample(0);
  REQUIRE(s0.location_id_size() == 3);
  CHECK(s0.value(0) == 3);
  CHECK(s0.value(1) == 30'000'000);
  const pb::Location& leaf = LocationById(p, s0.location_id(0));
  CHECK(leaf.mapping_id() == main_map.id());
  CHECK(leaf.address() == 0x401234);
  REQUIRE(leaf.line_size() == 3);
  const pb::Function& inner = FunctionById(p, leaf.line(0).function_id());
  CHECK(Str(p, inner.name()) == "ns::InlinedLeaf(int)");
  CHECK(Str(p, inner.system_name()) == "_ZN2ns11InlinedLeafEi");
  CHECK(Str(p, inner.filename()) == "src/leaf.h");
  CHECK(inner.start_line() == 10);
  CHECK(leaf.line(0).line() == 12);
  CHECK(Str(p, FunctionById(p, leaf.line(1).function_id()).name()) == "ns::InlinedMiddle()");
  CHECK(leaf.line(1).line() == 25);
  CHECK(Str(p, FunctionById(p, leaf.line(2).function_id()).name()) == "OuterCaller");
  CHECK(leaf.line(2).line() == 33);

  // OuterCaller appears inlined-into and as a frame of its own: one Function, two Locations.
  const pb::Location& outer_direct = LocationById(p, p.sample(1).location_id(1));
  REQUIRE(outer_direct.line_size() == 1);
  CHECK(outer_direct.line(0).function_id() == leaf.line(2).function_id());
  CHECK(outer_direct.line(0).line() == 40);
  // main and __libc_start_call_main are shared by samples 0 and 1.
  CHECK(p.sample(1).location_id(2) == s0.location_id(1));
  CHECK(p.sample(1).location_id(3) == s0.location_id(2));

  // The pseudo-frame has no mapping.
  const pb::Location& truncated = LocationById(p, p.sample(2).location_id(1));
  CHECK(truncated.mapping_id() == 0);
  CHECK(Str(p, FunctionById(p, truncated.line(0).function_id()).name()) == "[truncated]");

  // Labels: numeric thread_id with unit, string thread_name.
  REQUIRE(s0.label_size() == 2);
  CHECK(Str(p, s0.label(0).key()) == "thread_id");
  CHECK(s0.label(0).num() == 4242);
  CHECK(s0.label(0).str() == 0);
  CHECK(Str(p, s0.label(0).num_unit()) == "id");
  CHECK(Str(p, s0.label(1).key()) == "thread_name");
  CHECK(Str(p, s0.label(1).str()) == "worker-1");
  CHECK(s0.label(1).num() == 0);
  CHECK(p.sample(1).label(0).num_unit() == 0);
}

TEST_CASE("String table starts with \"\" and holds each string once", "[proto]") {
  ProfileBuilder builder;
  REQUIRE(builder.profile().string_table_size() == 1);
  CHECK(builder.profile().string_table(0).empty());
  builder.AddSampleType("samples", "count");
  builder.AddSampleType("cpu", "nanoseconds");
  builder.SetPeriod("cpu", "nanoseconds", 1);
  builder.AddComment("samples");
  builder.AddComment("");
  const pb::Profile& p = builder.profile();
  CHECK(p.string_table_size() == 5);  // "", samples, count, cpu, nanoseconds
  CHECK(p.comment(0) == p.sample_type(0).type());
  CHECK(p.comment(1) == 0);
  std::set<std::string> unique(p.string_table().begin(), p.string_table().end());
  CHECK(unique.size() == size_t(p.string_table_size()));
}

TEST_CASE("Functions, locations and mappings are deduplicated", "[proto]") {
  ProfileBuilder builder;
  builder.AddSampleType("samples", "count");
  MappingInfo exe{.memory_start = 0x1000,
                  .memory_limit = 0x2000,
                  .filename = "/bin/x",
                  .build_id = "aa",
                  .has_functions = true};
  uint64_t m1 = builder.AddMapping(exe);
  CHECK(builder.AddMapping(exe) == m1);
  MappingInfo other_flags = exe;
  other_flags.has_line_numbers = true;
  uint64_t m2 = builder.AddMapping(other_flags);
  CHECK(m2 != m1);
  CHECK(m1 == 1);
  CHECK(m2 == 2);

  LineInfo f{
      .function = "f", .system_name = "_Z1fv", .filename = "f.cc", .start_line = 1, .line = 3};
  uint64_t a = builder.AddLocation(m1, 0x1100, {f});
  CHECK(builder.AddLocation(m1, 0x1100, {f}) == a);
  // Any difference in mapping, address, line number or inline chain is another location.
  CHECK(builder.AddLocation(m2, 0x1100, {f}) != a);
  CHECK(builder.AddLocation(m1, 0x1104, {f}) != a);
  LineInfo f_line4 = f;
  f_line4.line = 4;
  CHECK(builder.AddLocation(m1, 0x1100, {f_line4}) != a);
  CHECK(builder.AddLocation(m1, 0x1100, {f, f}) != a);
  const pb::Profile& p = builder.profile();
  CHECK(p.location_size() == 5);
  CHECK(p.function_size() == 1);  // all of them are the same function

  // Each part of the function's identity makes a new function.
  LineInfo g = f;
  g.start_line = 2;
  builder.AddLocation(m1, 0x1200, {g});
  g = f;
  g.filename = "g.cc";
  builder.AddLocation(m1, 0x1200, {g});
  g = f;
  g.system_name = "_Z1gv";
  builder.AddLocation(m1, 0x1200, {g});
  g = f;
  g.function = "g";
  builder.AddLocation(m1, 0x1200, {g});
  CHECK(p.function_size() == 5);
  CHECK(p.location_size() == 9);
  for (int i = 0; i < p.location_size(); ++i) CHECK(p.location(i).id() == uint64_t(i) + 1);
  for (int i = 0; i < p.function_size(); ++i) CHECK(p.function(i).id() == uint64_t(i) + 1);
  CHECK(CheckProfileInvariants(p).empty());
  CHECK(builder.status().ok());
}

TEST_CASE("Misuse is reported in status() and leaves a valid profile", "[proto]") {
  ProfileBuilder builder;
  builder.AddSampleType("samples", "count");
  builder.AddSampleType("cpu", "nanoseconds");
  uint64_t loc = builder.AddLocation(0, 0x10, {{.function = "f"}});
  CHECK(builder.status().ok());

  SECTION("wrong number of values") {
    builder.AddSample({loc}, {1});
    REQUIRE_FALSE(builder.status().ok());
    CHECK(builder.status().message().find("1 values for 2 sample types") != std::string::npos);
  }
  SECTION("unknown location id") {
    builder.AddSample({loc, 99}, {1, 2});
    REQUIRE_FALSE(builder.status().ok());
    CHECK(builder.status().message().find("unknown location id 99") != std::string::npos);
  }
  SECTION("location id 0") {
    builder.AddSample({0}, {1, 2});
    CHECK_FALSE(builder.status().ok());
  }
  SECTION("unknown mapping id") {
    uint64_t l = builder.AddLocation(7, 0x20, {{.function = "g"}});
    REQUIRE_FALSE(builder.status().ok());
    CHECK(builder.status().message().find("unknown mapping id 7") != std::string::npos);
    CHECK(LocationById(builder.profile(), l).mapping_id() == 0);
  }
  CHECK(builder.profile().sample_size() == 0);
  builder.AddSample({loc}, {1, 2});
  CHECK(builder.profile().sample_size() == 1);
  CHECK(CheckProfileInvariants(builder.profile()).empty());
}

}  // namespace
}  // namespace pprofd::proto
