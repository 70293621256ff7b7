// /heap without --heap and without ?seconds= is the client's mistake (400 naming --heap) on every
// kernel, including one where the allocator cannot be probed at all (where ?seconds=N is 501).
#include <catch2/catch.hpp>
#include <string>

#include "agent/host/target_context.h"
#include "agent/kinds/heap/heap_kind.h"
#include "tests/support/sleeping_child.h"

namespace pprofd::kinds::heap {
namespace {

TEST_CASE("without a heap sampler, /heap asks for --heap (400) and ?seconds=N is 501") {
  testing::SleepingChild child;
  auto target = target::TargetProcess::Open(child.pid());
  REQUIRE(target.ok());
  host::TargetContext context(std::move(*target), nullptr);
  HeapSetup setup;
  setup.unavailable_reason = "heap profiles need uprobes: this kernel refused them";
  HeapKind kind(std::move(setup), &context);

  http::BackendErrorKind error_kind{};
  std::string message;
  auto record = [&](StatusOr<std::string> result, http::BackendErrorKind k) {
    error_kind = k;
    message = result.ok() ? "" : result.status().message();
  };
  kind.Profile({.type = "heap", .seconds = 0, .debug = 0}, record);
  CHECK(error_kind == http::BackendErrorKind::kBadRequest);
  CHECK(message.find("--heap") != std::string::npos);

  kind.Profile({.type = "heap", .seconds = 5, .debug = 0}, record);
  CHECK(error_kind == http::BackendErrorKind::kNotImplemented);
  CHECK(message == "heap profiles need uprobes: this kernel refused them");
}

}  // namespace
}  // namespace pprofd::kinds::heap
