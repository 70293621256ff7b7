// The server's connection limits over real sockets: --max-connections (one more connection gets
// a one-line 503 and is closed; a closed connection frees its slot), slow and idle clients cut
// off by the read and idle timeouts so that they cannot hold a slot, and the counters /metrics
// shows.
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "agent/http/server.h"
#include "tests/http/test_client.h"
#include "tests/http/test_server.h"

namespace pprofd::http {
namespace {

using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::Connect;
using testing::Fetch;
using testing::HeaderOf;
using testing::ReadResponse;
using testing::RequestBytes;
using testing::SendAll;
using testing::TestServer;
using testing::WaitForClose;

void Hello(const Request&, Respond respond) {
  respond(TextResponse(boost::beast::http::status::ok, "hello"));
}

// Opens `count` connections and waits until the server has a session for each.
std::vector<ScopedFd> OpenIdle(TestServer& server, int count) {
  std::vector<ScopedFd> fds;
  for (int i = 0; i < count; ++i) {
    fds.push_back(Connect(server.port()));
    REQUIRE(fds.back().valid());
  }
  REQUIRE(TestServer::WaitFor([&] { return server.server().active_sessions() == count; }));
  return fds;
}

TEST_CASE("A connection over --max-connections gets a one-line 503 and is closed",
          "[server][limits]") {
  ServerOptions options;
  options.max_connections = 4;
  TestServer server(Hello, options);
  REQUIRE(server.ok());
  std::vector<ScopedFd> idle = OpenIdle(server, 4);

  ScopedFd extra = Connect(server.port());
  REQUIRE(extra.valid());
  REQUIRE(SendAll(extra.get(), RequestBytes("GET", "/debug/pprof/")));
  std::string pending;
  StatusOr<ClientResponse> refused = ReadResponse(extra.get(), pending, false, 3s);
  REQUIRE(refused.ok());
  CHECK(refused->result_int() == 503);
  CHECK(HeaderOf(*refused, "X-Go-Pprof") == "1");
  CHECK(refused->body() ==
        "pprofd: too many open connections (--max-connections=4); close idle connections or "
        "raise --max-connections\n");
  CHECK(WaitForClose(extra.get(), 2s));
  CHECK(server.server().limit_counts().refused_connections == 1);
  CHECK(server.server().active_sessions() == 4);

  // A slot freed is a slot to serve.
  idle.pop_back();
  REQUIRE(TestServer::WaitFor([&] { return server.server().active_sessions() == 3; }));
  StatusOr<ClientResponse> served = Fetch(server.port(), "GET", "/after");
  REQUIRE(served.ok());
  CHECK(served->result_int() == 200);
  CHECK(server.server().limit_counts().refused_connections == 1);
}

TEST_CASE("A flood of connections beyond the limit leaves the server serving", "[server][limits]") {
  ServerOptions options;
  options.max_connections = 8;
  TestServer server(Hello, options);
  REQUIRE(server.ok());
  std::vector<ScopedFd> flood;
  for (int i = 0; i < 200; ++i) flood.push_back(Connect(server.port()));
  REQUIRE(TestServer::WaitFor(
      [&] { return server.server().limit_counts().refused_connections >= 200 - 8; }));
  CHECK(server.server().active_sessions() == 8);
  flood.clear();
  REQUIRE(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
  StatusOr<ClientResponse> served = Fetch(server.port(), "GET", "/after-flood");
  REQUIRE(served.ok());
  CHECK(served->result_int() == 200);
}

TEST_CASE("Slowloris clients trickling a byte at a time cannot hold the slots",
          "[server][limits]") {
  ServerOptions options;
  options.max_connections = 2;
  options.read_timeout = 1s;
  options.idle_timeout = 30s;
  TestServer server(Hello, options);
  REQUIRE(server.ok());
  std::vector<ScopedFd> slow = OpenIdle(server, 2);
  const std::string request = RequestBytes("GET", "/slowloris-with-a-rather-long-target");
  const auto start = std::chrono::steady_clock::now();
  // One byte per 200 ms from each (five times the rate the one-byte-a-second client
  // sends): only the whole-request deadline stops them.
  size_t sent = 0;
  while (server.server().active_sessions() > 0 && sent < request.size() &&
         std::chrono::steady_clock::now() - start < 5s) {
    for (ScopedFd& fd : slow) (void)SendAll(fd.get(), std::string_view(&request[sent], 1));
    ++sent;
    std::this_thread::sleep_for(200ms);
  }
  const auto held = std::chrono::steady_clock::now() - start;
  CHECK(server.server().active_sessions() == 0);
  CHECK(held < 2500ms);
  CHECK(server.server().limit_counts().read_timeouts == 2);
  StatusOr<ClientResponse> served = Fetch(server.port(), "GET", "/after-slowloris");
  REQUIRE(served.ok());
  CHECK(served->result_int() == 200);
}

TEST_CASE("Idle keep-alive connections are closed and counted", "[server][limits]") {
  ServerOptions options;
  options.max_connections = 2;
  options.idle_timeout = 300ms;
  options.read_timeout = 5s;
  TestServer server(Hello, options);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  std::string pending;
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/once")));
  REQUIRE(ReadResponse(fd.get(), pending).ok());
  CHECK(WaitForClose(fd.get(), 3s));
  REQUIRE(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
  const HttpServer::LimitCounts counts = server.server().limit_counts();
  CHECK(counts.idle_timeouts == 1);
  CHECK(counts.read_timeouts == 0);
  CHECK(counts.refused_connections == 0);
}

}  // namespace
}  // namespace pprofd::http
