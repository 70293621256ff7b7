// Feeds the builder's output to the real client, `go tool pprof`, as users will.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "proto/profile_builder.h"
#include "tests/proto/sample_profile.h"
#include "tests/support/go_tool.h"

namespace pprofd::proto {
namespace {

namespace fs = std::filesystem;

using pprofd::testing::CommandResult;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("go tool pprof reads the builder's profile", "[proto][go]") {
  pprofd::testing::GoTool pprof;
  if (!pprof.ok()) FAIL("`go` not found in PATH; install golang-go to run the pprof client");

  ProfileBuilder builder;
  testing::BuildSampleProfile(&builder);
  fs::path file = pprof.WriteFile("profile.pb.gz", builder.SerializeGzipped());

  SECTION("-raw lists every function, mapping and the header") {
    CommandResult raw = pprof.Pprof("-raw", file);
    INFO(raw.output);
    REQUIRE(raw.exit_code == 0);
    for (const char* name : {"ns::InlinedLeaf(int)", "ns::InlinedMiddle()", "OuterCaller", "main",
                             "__libc_start_call_main", "__memcpy_avx_unaligned_erms",
                             "libstripped.so+0x400", "[truncated]"}) {
      CHECK(Contains(raw.output, name));
    }
    CHECK(Contains(raw.output, "PeriodType: cpu nanoseconds"));
    CHECK(Contains(raw.output, "Period: 10000000"));
    CHECK(Contains(raw.output, "samples/count cpu/nanoseconds"));
    CHECK(Contains(raw.output, testing::kMainBinary));
    CHECK(Contains(raw.output, testing::kMainBuildId));
    CHECK(Contains(raw.output, "thread_name:[worker-1]"));
    CHECK(Contains(raw.output, "thread_id:[4242 id]"));
    CHECK(Contains(raw.output, "thread_id:[4243]"));
    CHECK(Contains(raw.output, "[FN][FL][LN][IN]"));
    CHECK(Contains(raw.output, "pprofd test profile"));
    // With has_functions & co. set, pprof must not try to re-symbolize the main executable.
    CHECK_FALSE(Contains(raw.output, "Local symbolization failed for pprofd-test-target"));
  }

  SECTION("-traces shows the inline chain inside one sample") {
    CommandResult traces = pprof.Pprof("-traces", file);
    INFO(traces.output);
    REQUIRE(traces.exit_code == 0);
    // Innermost first; the inlined frames are marked by pprof.
    size_t leaf = traces.output.find("ns::InlinedLeaf(int)");
    size_t middle = traces.output.find("ns::InlinedMiddle()");
    size_t outer = traces.output.find("OuterCaller");
    size_t main_frame = traces.output.find(" main\n");
    REQUIRE(leaf != std::string::npos);
    REQUIRE(middle != std::string::npos);
    REQUIRE(outer != std::string::npos);
    REQUIRE(main_frame != std::string::npos);
    CHECK(leaf < middle);
    CHECK(middle < outer);
    CHECK(outer < main_frame);
    CHECK(Contains(traces.output, "ns::InlinedLeaf(int) (inline)"));
    CHECK(Contains(traces.output, "ns::InlinedMiddle() (inline)"));
    CHECK_FALSE(Contains(traces.output, "OuterCaller (inline)"));
    CHECK(Contains(traces.output, "thread_name:  worker-1"));
    CHECK(Contains(traces.output, "thread_id:  4242"));
  }

  SECTION("-top weights by the default sample type") {
    CommandResult top = pprof.Pprof("-top", file);
    INFO(top.output);
    REQUIRE(top.exit_code == 0);
    // cpu/nanoseconds is the default: total 60ms, not 6 samples.
    CHECK(Contains(top.output, "60ms"));
  }
}

}  // namespace
}  // namespace pprofd::proto
