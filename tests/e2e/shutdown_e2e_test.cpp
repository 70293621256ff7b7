// End to end: SIGTERM stops the real pprofd within a bounded time in every state it can be in
// (issue 13): idle, profiling with a long request in flight, with clients that are stuck (a
// request half sent, a keep-alive connection, a client that asked for a profile and never reads),
// and following a restart under --pidfile while no target runs. systemd's default stop timeout
// is 90 s; pprofd promises 5 s (the shutdown deadline after which connections are closed) plus
// the time to detach.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "base/scoped_fd.h"
#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// pprofd's shutdown deadline (5 s) and a margin for detaching from the kernel.
constexpr double kStopSeconds = 6.5;

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

void Send(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

// Sends SIGTERM and returns the seconds until pprofd exited (fails the test past kStopSeconds).
double StopSeconds(Agent& agent) {
  const auto start = Clock::now();
  agent.process().Signal(SIGTERM);
  std::optional<int> code =
      agent.process().Wait(milliseconds(static_cast<int>(kStopSeconds * 1000)));
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  INFO("pprofd stderr: " << agent.process().Stderr());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  return took;
}

}  // namespace

TEST_CASE("SIGTERM stops pprofd within the deadline in every state", "[shutdown]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  REQUIRE(WaitForReady(workload));

  SECTION("idle") {
    Agent agent(workload.pid());
    REQUIRE(agent.listening());
    const double took = StopSeconds(agent);
    WARN("idle: stopped " << took << " s after SIGTERM");
    CHECK(took < 2.0);
  }
  SECTION("profiling: a 60-second CPU profile in flight gets what was sampled") {
    Agent agent(workload.pid());
    REQUIRE(agent.listening());
    CommandResult fetched;
    std::thread client([&] {
      fetched = Curl({"--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
                      agent.Url("/debug/pprof/profile?seconds=60")});
    });
    std::this_thread::sleep_for(seconds(2));
    const double took = StopSeconds(agent);
    client.join();
    WARN("profile in flight: stopped " << took << " s after SIGTERM; the client got "
                                       << fetched.out);
    CHECK(took < 3.0);
  }
  SECTION("stuck clients: a request half sent, an idle keep-alive, a reader that never reads") {
    Agent agent(workload.pid());
    REQUIRE(agent.listening());
    ScopedFd half = ConnectTo(agent.port());
    Send(half.get(), "GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\nHost: x\r\n");
    ScopedFd keep_alive = ConnectTo(agent.port());
    Send(keep_alive.get(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ScopedFd never_reads = ConnectTo(agent.port());
    for (int i = 0; i < 50; ++i) {
      Send(never_reads.get(), "GET /debug/pprof/threads?debug=2 HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    std::this_thread::sleep_for(seconds(1));
    const double took = StopSeconds(agent);
    WARN("stuck clients: stopped " << took << " s after SIGTERM");
  }
  SECTION("--pidfile, following a restart with no target running") {
    const std::string dir = TempDir();
    const std::string pidfile = dir + "/target.pid";
    std::ofstream(pidfile) << workload.pid() << "\n";
    Agent agent = Agent::WithArgs({"--pidfile", pidfile});
    REQUIRE(agent.listening());
    workload.Signal(SIGKILL);
    workload.Wait(seconds(5));
    REQUIRE(WaitForStderr(agent.process(), "waiting", seconds(10)));
    const double took = StopSeconds(agent);
    WARN("--pidfile, target gone: stopped " << took << " s after SIGTERM");
    CHECK(took < 2.0);
    std::filesystem::remove_all(dir);
  }
}

}  // namespace pprofd::e2e
