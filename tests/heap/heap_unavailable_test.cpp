// /heap without --heap and without ?seconds= is the client's mistake (400 naming --heap) on every
// kernel, including one where the allocator cannot be probed at all (where ?seconds=N is 501).
#include <catch2/catch.hpp>
#include <string>

#include "agent/heap_profiler.h"

namespace pprofd {
namespace {

TEST_CASE("without a heap sampler, /heap asks for --heap (400) and ?seconds=N is 501") {
  boost::asio::io_context io;
  HeapSetup setup;
  setup.unavailable_reason = "heap profiles need uprobes: this kernel refused them";
  ProfilerContext context;
  context.io = &io;
  HeapProfiler profiler(std::move(setup), context);

  http::BackendErrorKind kind{};
  std::string message;
  auto record = [&](StatusOr<std::string> result, http::BackendErrorKind k) {
    kind = k;
    message = result.ok() ? "" : result.status().message();
  };
  profiler.Profile({.kind = http::HeapProfileKind::kHeap, .seconds = 0, .debug = 0}, record);
  CHECK(kind == http::BackendErrorKind::kBadRequest);
  CHECK(message.find("--heap") != std::string::npos);

  profiler.Profile({.kind = http::HeapProfileKind::kHeap, .seconds = 5, .debug = 0}, record);
  CHECK(kind == http::BackendErrorKind::kNotImplemented);
  CHECK(message == "heap profiles need uprobes: this kernel refused them");
}

}  // namespace
}  // namespace pprofd
