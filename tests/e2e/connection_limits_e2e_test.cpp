// End to end: the real pprofd under --max-connections. Idle connections fill the slots; one more
// gets the one-line 503 (curl shows it), a slot freed serves /healthz again, and /metrics counts
// what was refused and what the read timeout cut off.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/scoped_fd.h"
#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::seconds;

ScopedFd ConnectTo(int port) {
  ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

double MetricValue(const std::string& scrape, const std::string& series) {
  for (const std::string& line : Lines(scrape)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace

TEST_CASE("pprofd refuses connections over --max-connections with one line and counts them",
          "[limits]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "60"});
  REQUIRE(WaitForReady(workload));
  Agent agent(workload.pid(), {"--max-connections", "4", "--read-timeout", "1"});
  REQUIRE(agent.listening());

  std::vector<ScopedFd> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(ConnectTo(agent.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CommandResult refused = Curl({"--max-time", "5", agent.Url("/healthz")});
  INFO(refused.out << refused.err);
  CHECK(StatusCode(refused.out) == 503);
  CHECK(BodyOf(refused.out) ==
        "pprofd: too many open connections (--max-connections=4); close idle connections or "
        "raise --max-connections\n");

  // The idle connections sent nothing: the read timeout (1 s) closes them and frees the slots.
  std::this_thread::sleep_for(seconds(2));
  CommandResult health = Curl({"--max-time", "5", agent.Url("/healthz")});
  CHECK(StatusCode(health.out) == 200);
  const std::string scrape = BodyOf(Curl({"--max-time", "5", agent.Url("/metrics")}).out);
  INFO(scrape);
  CHECK(MetricValue(scrape, "pprofd_http_connections_refused_total") == 1);
  CHECK(MetricValue(scrape, "pprofd_http_connections_timed_out_total{reason=\"read\"}") == 4);
  CHECK(MetricValue(scrape, "pprofd_http_connections_open") == 1);  // the scrape itself
}

}  // namespace pprofd::e2e
