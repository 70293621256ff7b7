// End to end: the real Prometheus server (Debian's prometheus package, run by the test on a free
// port with its own configuration and storage, never as the system service) scrapes pprofd's
// /metrics every second; `up` is 1 and pprofd's metrics are queryable through Prometheus's HTTP
// API (/api/v1/query), among them the size of a cumulative store (--block).
//
// Without the prometheus binary the test is skipped with a warning, and fails under CI=true.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

std::string FindPrometheus() {
  for (const char* path : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

// The body of Prometheus's answer to an instant query.
std::string Query(int port, const std::string& query) {
  CommandResult result = RunCommand({"curl", "-sS", "--max-time", "5", "-G",
                                     "http://127.0.0.1:" + std::to_string(port) + "/api/v1/query",
                                     "--data-urlencode", "query=" + query});
  return result.out;
}

// Polls `query` until its answer contains `wanted`, for up to `timeout`.
bool WaitForAnswer(int port, const std::string& query, const std::string& wanted,
                   std::chrono::seconds timeout, std::string* last) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    *last = Query(port, query);
    if (last->find(wanted) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

TEST_CASE("The real Prometheus scrapes pprofd's /metrics: up is 1 and pprofd's metrics answer",
          "[prometheus]") {
  const std::string prometheus = FindPrometheus();
  if (prometheus.empty()) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL("prometheus not found: apt-get install -y --no-install-recommends prometheus");
    }
    WARN("skipped: prometheus not found (apt-get install prometheus)");
    return;
  }
  Subprocess workload({FixturePath("scrape_workload/scrape_workload")});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid(), {"--block"});
  REQUIRE(agent.listening());

  const std::string dir = TempDir();
  const std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << "global:\n"
                           "  scrape_interval: 1s\n"
                           "  scrape_timeout: 1s\n"
                           "scrape_configs:\n"
                           "  - job_name: pprofd\n"
                           "    static_configs:\n"
                           "      - targets: ['127.0.0.1:"
                        << agent.port() << "']\n";
  const int port = FreePort();
  Subprocess server({prometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
                     "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  REQUIRE(WaitForPort(port, std::chrono::seconds(30)));

  std::string answer;
  INFO("prometheus stderr:\n" << server.Stderr());
  const bool up =
      WaitForAnswer(port, "up{job=\"pprofd\"}", "\"1\"]", std::chrono::seconds(30), &answer);
  INFO("up: " << answer);
  REQUIRE(up);
  CHECK(answer.find("\"status\":\"success\"") != std::string::npos);

  // pprofd's own series, through PromQL.
  CHECK(WaitForAnswer(port, "pprofd_build_info", "\"__name__\":\"pprofd_build_info\"",
                      std::chrono::seconds(10), &answer));
  INFO("pprofd_build_info: " << answer);
  CHECK(WaitForAnswer(port, "pprofd_target_pid", "\"" + std::to_string(workload.pid()) + "\"]",
                      std::chrono::seconds(10), &answer));
  INFO("pprofd_target_pid: " << answer);
  // The cumulative block store fills as the workload sleeps: at least one stack.
  CHECK(WaitForAnswer(port, "pprofd_cumulative_store_stacks{kind=\"block\"} > 0",
                      "\"kind\":\"block\"", std::chrono::seconds(15), &answer));
  INFO("pprofd_cumulative_store_stacks: " << answer);
  CHECK(WaitForAnswer(port, "pprofd_cumulative_store_overflow_total{kind=\"block\"}", "\"0\"]",
                      std::chrono::seconds(10), &answer));
}

}  // namespace
}  // namespace pprofd::e2e
