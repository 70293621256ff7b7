// /heap, /allocs and /delta_heap without --heap and without ?seconds= answer at once with an
// empty profile of Go's four heap types whose comment names --heap and its cost, as Go answers
// with MemProfileRate 0, on every kernel, including one where the allocator cannot be probed at
// all (where ?seconds=N is 501).
#include <catch2/catch.hpp>
#include <string>

#include "agent/host/target_context.h"
#include "agent/kinds/heap/heap_kind.h"
#include "proto/profile.pb.h"
#include "proto/profile_builder.h"
#include "tests/proto/pprof_invariants.h"
#include "tests/support/sleeping_child.h"

namespace pprofd::kinds::heap {
namespace {

TEST_CASE("without --heap, /heap is an empty profile naming --heap; ?seconds=N is 501") {
  testing::SleepingChild child;
  auto target = target::TargetProcess::Open(child.pid());
  REQUIRE(target.ok());
  host::TargetContext context(std::move(*target), nullptr);
  HeapSetup setup;
  setup.unavailable_reason = "heap profiles need uprobes: this kernel refused them";
  HeapKind kind(std::move(setup), &context);

  for (const char* type : {"heap", "allocs", "delta_heap"}) {
    INFO(type);
    StatusOr<std::string> body = Status::Error("not answered");
    kind.Profile({.type = type, .seconds = 0, .debug = 0},
                 [&](StatusOr<std::string> result) { body = std::move(result); });
    REQUIRE(body.ok());
    std::string bytes;
    REQUIRE(proto::Gunzip(*body, &bytes));
    perftools::profiles::Profile profile;
    REQUIRE(profile.ParseFromString(bytes));
    CHECK(testing::CheckProfileInvariants(profile).empty());
    auto str = [&](int64_t index) { return profile.string_table(static_cast<int>(index)); };
    REQUIRE(profile.sample_type_size() == 4);
    const char* types[][2] = {{"alloc_objects", "count"},
                              {"alloc_space", "bytes"},
                              {"inuse_objects", "count"},
                              {"inuse_space", "bytes"}};
    for (int i = 0; i < 4; ++i) {
      CHECK(str(profile.sample_type(i).type()) == types[i][0]);
      CHECK(str(profile.sample_type(i).unit()) == types[i][1]);
    }
    CHECK(str(profile.period_type().type()) == "space");
    CHECK(profile.sample_size() == 0);
    CHECK(profile.duration_nanos() == 0);
    REQUIRE(profile.comment_size() == 1);
    CHECK_THAT(str(profile.comment(0)), Catch::Contains("--heap") &&
                                            Catch::Contains("us per malloc+free pair") &&
                                            Catch::Contains("?seconds=N"));
    if (std::string(type) == "allocs") {
      CHECK(str(profile.default_sample_type()) == "alloc_space");
    }
  }

  http::BackendErrorKind error_kind{};
  std::string message;
  kind.Profile({.type = "heap", .seconds = 5, .debug = 0},
               [&](StatusOr<std::string> result, http::BackendErrorKind k) {
                 error_kind = k;
                 message = result.ok() ? "" : result.status().message();
               });
  CHECK(error_kind == http::BackendErrorKind::kNotImplemented);
  CHECK(message == "heap profiles need uprobes: this kernel refused them");
}

}  // namespace
}  // namespace pprofd::kinds::heap
