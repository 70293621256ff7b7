// A refused perf_event_open names the sysctl behind it on Debian's kernels (paranoid 3 refuses
// CAP_PERFMON) and the capability elsewhere.
#include <catch2/catch.hpp>
#include <string>

#include "agent/sampling/perf_event.h"

namespace pprofd::sampling {
namespace {

TEST_CASE("at perf_event_paranoid 3 the advice names the sysctl, its fix and the package's file") {
  const std::string advice = PerfPermissionAdvice(3);
  CHECK(advice.find("kernel.perf_event_paranoid=3") != std::string::npos);
  CHECK(advice.find("sysctl -w kernel.perf_event_paranoid=2") != std::string::npos);
  CHECK(advice.find("/usr/lib/sysctl.d/60-pprofd.conf") != std::string::npos);
}

TEST_CASE("at perf_event_paranoid 2 or less the advice names CAP_PERFMON") {
  for (int paranoid : {-1, 0, 1, 2}) {
    CHECK(PerfPermissionAdvice(paranoid).find("CAP_PERFMON") != std::string::npos);
  }
}

}  // namespace
}  // namespace pprofd::sampling
