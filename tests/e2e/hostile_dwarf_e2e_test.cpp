// The real pprofd against programs whose DWARF is hostile but legal (tests/fixtures/hostile_dwarf:
// 200,000 nested lexical blocks, 20,000 nested namespaces and 75,000-character scope names,
// abstract_origin cycles, a range over the address space). Before the bounds pprofd died of a stack
// overflow on the first, and spent 20 s and 1.5 GB on the second. Now each target gets its CPU
// profile with the hot functions named (cut where a bound was hit), /healthz answers throughout,
// RSS stays under kMaxRssKb, and SIGTERM stops pprofd within 5 s.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kSeconds = 5;
// pprofd's RSS while profiling a small program is about 170 MB with the BPF maps; the unbounded
// namespace walk took it to 1.5 GB.
constexpr long kMaxRssKb = 300 * 1024;

long VmRssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// What the long scope names of hostile_namespaces are cut to: their start, the mark, the name.
const std::string kLongNameStart = "long_namespace_name_0123456789_";
const std::string kLongNameEnd = "\u2026[truncated]::hot_long_ns";
// Stands for such a name in the text given to ParseRaw, whose std::regex (recursive in
// libstdc++) overflows the stack on a 64 KiB line.
const std::string kLongNameToken = "<long name>";

// `go tool pprof -raw` of `url`, every long name cut by pprofd (kLongNameStart ... kLongNameEnd)
// put in *long_names and replaced by kLongNameToken before parsing.
bool FetchRawProfileWithLongNames(const std::string& url, RawProfile* profile,
                                  std::vector<std::string>* long_names, std::string* error) {
  CommandResult result = GoPprof({"-raw"}, url);
  if (result.exit_code != 0) {
    *error = "go tool pprof -raw " + url + " exited " + std::to_string(result.exit_code) + ": " +
             result.err;
    return false;
  }
  std::string text = std::move(result.out);
  for (size_t end; (end = text.find(kLongNameEnd)) != std::string::npos;) {
    size_t line_start = text.rfind('\n', end);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    size_t start = text.find(kLongNameStart, line_start);
    if (start == std::string::npos || start > end) {
      *error = "a cut name that does not start with " + kLongNameStart;
      return false;
    }
    long_names->push_back(text.substr(start, end + kLongNameEnd.size() - start));
    text.replace(start, end + kLongNameEnd.size() - start, kLongNameToken);
  }
  return ParseRaw(text, profile, error);
}

struct Watched {
  bool ok = false;
  RawProfile profile;
  std::vector<std::string> long_names;
  std::string error;
  double took_seconds = 0;  // from the request to the answer
  int health_checks = 0;
  int health_failures = 0;
  long peak_rss_kb = 0;
};

// A CPU profile of `kSeconds` from `agent`, asking /healthz and reading pprofd's VmRSS every
// 250 ms until it is answered.
Watched ProfileWhileWatching(Agent& agent) {
  Watched watched;
  const auto started = std::chrono::steady_clock::now();
  auto fetched = std::async(std::launch::async, [&] {
    return FetchRawProfileWithLongNames(
        agent.Url("/debug/pprof/profile?seconds=" + std::to_string(kSeconds)), &watched.profile,
        &watched.long_names, &watched.error);
  });
  do {
    ++watched.health_checks;
    if (StatusCode(Curl({"--max-time", "2", agent.Url("/healthz")}).out) != 200) {
      ++watched.health_failures;
    }
    watched.peak_rss_kb = std::max(watched.peak_rss_kb, VmRssKb(agent.process().pid()));
  } while (fetched.wait_for(milliseconds(250)) != std::future_status::ready);
  watched.ok = fetched.get();
  watched.took_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  watched.peak_rss_kb = std::max(watched.peak_rss_kb, VmRssKb(agent.process().pid()));
  return watched;
}

struct Case {
  const char* fixture;
  // Functions each holding more than a fifth of the samples.
  std::vector<std::string> hot;
};

TEST_CASE("Hostile DWARF: pprofd stays up, bounded, and names the hot functions",
          "[hostile_dwarf]") {
  const std::vector<Case> cases = {
      // The inlined call 200,000 blocks down is beyond the depth bound: a marker frame says so.
      {"hostile_blocks", {"hot_blocks", "[DWARF: scopes nested too deep]", "hot_buried"}},
      // hot_deep_ns is declared 20,000 namespaces down: named by its symbol.
      {"hostile_namespaces", {"hot_deep_ns"}},
      {"hostile_cycle", {"cyc::hot_cycle", "cyc::cycle_b"}},
      // One function's range covers the address space, over 200,000 tiny ones.
      {"hostile_ranges", {"hot_ranges"}},
  };
  for (const Case& c : cases) {
    SECTION(c.fixture) {
      Subprocess workload({FixturePath(std::string("hostile_dwarf/") + c.fixture), "120"});
      REQUIRE(WaitForReady(workload));
      Agent agent(workload.pid());
      REQUIRE(agent.listening());

      Watched watched = ProfileWhileWatching(agent);
      WARN(c.fixture << ": profile answered " << watched.took_seconds << " s after the request ("
                     << kSeconds << " s window), pprofd peak RSS " << watched.peak_rss_kb / 1024
                     << " MB, /healthz " << watched.health_checks - watched.health_failures << "/"
                     << watched.health_checks << " OK");
      INFO(watched.error << "\n" << agent.process().Stderr());
      REQUIRE(watched.ok);
      CHECK(agent.process().Running());
      CHECK(watched.health_failures == 0);
      CHECK(watched.health_checks >= kSeconds * 2);
      CHECK(watched.peak_rss_kb > 0);
      CHECK(watched.peak_rss_kb < kMaxRssKb);
      // The window plus symbolization: the bounded walks take milliseconds.
      CHECK(watched.took_seconds < kSeconds + 10);

      // At 100 Hz a spinning target gives about 100 samples a second with a CPU to itself; the
      // test machine may be loaded.
      REQUIRE(watched.profile.TotalCount() > 20);
      for (const std::string& function : c.hot) {
        double share = SharePercent(watched.profile, function);
        INFO(function << ": " << share << "% of samples");
        CHECK(share > 20);
      }
      if (std::string(c.fixture) == "hostile_namespaces") {
        // 500 scopes of 150 characters: cut at 64 KiB, keeping the function's own name.
        REQUIRE(!watched.long_names.empty());
        for (const std::string& name : watched.long_names) {
          CHECK(name == watched.long_names[0]);
          CHECK(name.size() <= 64 * 1024);
          CHECK(name.size() > 60 * 1024);
        }
        CHECK(SharePercent(watched.profile, kLongNameToken) > 20);
      }
      CHECK(watched.long_names.empty() == (std::string(c.fixture) != "hostile_namespaces"));

      const auto signalled = std::chrono::steady_clock::now();
      agent.process().Signal(SIGTERM);
      std::optional<int> code = agent.process().Wait(seconds(5));
      REQUIRE(code.has_value());
      CHECK(*code == 0);
      WARN(c.fixture
           << ": pprofd exited "
           << std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count()
           << " s after SIGTERM");
      CHECK(workload.Running());
    }
  }
}

}  // namespace
}  // namespace pprofd::e2e
