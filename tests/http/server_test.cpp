// The server on its own, with small handlers: parsing limits, keep-alive, late and foreign-thread
// responses, disconnects, bind errors, Stop().
#include "agent/http/server.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
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

// Answers "echo <method> <target> <body>".
void Echo(const Request& request, Respond respond) {
  respond(TextResponse(
      boost::beast::http::status::ok,
      StrCat("echo ", request.method_string(), " ", request.target(), " ", request.body())));
}

// Answers from another thread after `delay`, as the profiler does; threads joined by the owner.
class LateResponder {
 public:
  explicit LateResponder(std::chrono::milliseconds delay) : delay_(delay) {}
  ~LateResponder() { Join(); }
  RequestHandler Handler() {
    return [this](const Request& request, Respond respond) {
      ++received;
      std::string target(request.target());
      std::lock_guard lock(mutex_);
      threads_.emplace_back([this, target, respond = std::move(respond)] {
        std::this_thread::sleep_for(delay_);
        respond(TextResponse(boost::beast::http::status::ok, "late " + target));
        respond(TextResponse(boost::beast::http::status::ok, "second call is ignored"));
        ++answered;
      });
    };
  }
  void Join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
  }
  std::atomic<int> received{0};
  std::atomic<int> answered{0};

 private:
  std::chrono::milliseconds delay_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

TEST_CASE("Server answers a request and keeps the connection alive", "[server]") {
  TestServer server(Echo);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(fd.valid());
  std::string pending;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", StrCat("/n", i))));
    StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
    REQUIRE(response.ok());
    CHECK(response->result_int() == 200);
    CHECK(response->body() == StrCat("echo GET /n", i, " \n"));
    CHECK(response->keep_alive());
    CHECK(HeaderOf(*response, "Server") == "pprofd");
  }
  // Two pipelined requests in one write are answered in order.
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/a") + RequestBytes("POST", "/b", "xyz")));
  StatusOr<ClientResponse> first = ReadResponse(fd.get(), pending);
  StatusOr<ClientResponse> second = ReadResponse(fd.get(), pending);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->body() == "echo GET /a \n");
  CHECK(second->body() == "echo POST /b xyz\n");
}

TEST_CASE("Server honours Connection: close and HTTP/1.0", "[server]") {
  TestServer server(Echo);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/x", "", /*keep_alive=*/false)));
  std::string pending;
  StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
  REQUIRE(response.ok());
  CHECK_FALSE(response->keep_alive());
  CHECK(WaitForClose(fd.get()));

  ScopedFd old = Connect(server.port());
  REQUIRE(SendAll(old.get(), "GET /old HTTP/1.0\r\n\r\n"));
  pending.clear();
  StatusOr<ClientResponse> old_response = ReadResponse(old.get(), pending);
  REQUIRE(old_response.ok());
  CHECK(old_response->version() == 10);
  CHECK(WaitForClose(old.get()));
}

TEST_CASE("HEAD gets the headers of GET without a body", "[server]") {
  TestServer server(Echo);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(SendAll(fd.get(), RequestBytes("HEAD", "/h") + RequestBytes("GET", "/after")));
  std::string pending;
  StatusOr<ClientResponse> head = ReadResponse(fd.get(), pending, /*head=*/true);
  REQUIRE(head.ok());
  CHECK(HeaderOf(*head, "Content-Length") == std::to_string(std::string("echo HEAD /h \n").size()));
  // The next response starts right after the headers: no body bytes were sent.
  StatusOr<ClientResponse> after = ReadResponse(fd.get(), pending);
  REQUIRE(after.ok());
  CHECK(after->body() == "echo GET /after \n");
}

TEST_CASE("Malformed requests get a one-line 400 and the connection closes", "[server]") {
  TestServer server(Echo);
  REQUIRE(server.ok());
  for (const char* bytes :
       {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost test\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    INFO(bytes);
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), bytes));
    std::string pending;
    StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
    REQUIRE(response.ok());
    CHECK(response->result_int() == 400);
    CHECK_THAT(response->body(), Catch::StartsWith("malformed HTTP request: "));
    CHECK(response->body().find('\n') == response->body().size() - 1);
    CHECK_FALSE(response->keep_alive());
    CHECK(WaitForClose(fd.get()));
  }
  // The server still serves.
  StatusOr<ClientResponse> ok = Fetch(server.port(), "GET", "/fine");
  REQUIRE(ok.ok());
  CHECK(ok->result_int() == 200);
}

TEST_CASE("Header and body limits give 431 and 413", "[server]") {
  TestServer server(Echo);
  REQUIRE(server.ok());
  {
    ScopedFd fd = Connect(server.port());
    const std::string big_header =
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
    REQUIRE(SendAll(fd.get(), big_header));
    std::string pending;
    StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
    REQUIRE(response.ok());
    CHECK(response->result_int() == 431);
  }
  {
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), RequestBytes("POST", "/", std::string(1024 * 1024 + 1, 'b'))));
    std::string pending;
    StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
    REQUIRE(response.ok());
    CHECK(response->result_int() == 413);
  }
  {
    // Exactly at the limit (1 MiB: pprof posts every unsymbolized address to /symbol) is fine.
    StatusOr<ClientResponse> response =
        Fetch(server.port(), "POST", "/", std::string(1024 * 1024, 'c'));
    REQUIRE(response.ok());
    CHECK(response->result_int() == 200);
  }
}

TEST_CASE("Responses may come later from another thread", "[server]") {
  LateResponder late(200ms);
  {
    TestServer server(late.Handler());
    REQUIRE(server.ok());
    const auto start = std::chrono::steady_clock::now();
    // Two connections in flight at once: the server thread is not blocked by either.
    ScopedFd a = Connect(server.port());
    ScopedFd b = Connect(server.port());
    REQUIRE(SendAll(a.get(), RequestBytes("GET", "/a")));
    REQUIRE(SendAll(b.get(), RequestBytes("GET", "/b")));
    std::string pending_a, pending_b;
    StatusOr<ClientResponse> ra = ReadResponse(a.get(), pending_a);
    StatusOr<ClientResponse> rb = ReadResponse(b.get(), pending_b);
    REQUIRE(ra.ok());
    REQUIRE(rb.ok());
    CHECK(ra->body() == "late /a\n");
    CHECK(rb->body() == "late /b\n");
    CHECK(std::chrono::steady_clock::now() - start < 390ms);
    // The repeated respond() was ignored: the connection carries nothing more.
    REQUIRE(SendAll(a.get(), RequestBytes("GET", "/again")));
    StatusOr<ClientResponse> again = ReadResponse(a.get(), pending_a);
    REQUIRE(again.ok());
    CHECK(again->body() == "late /again\n");
    late.Join();
  }
}

TEST_CASE("A client leaving before the response does not hurt the server", "[server]") {
  LateResponder late(150ms);
  TestServer server(late.Handler());
  REQUIRE(server.ok());
  for (int i = 0; i < 5; ++i) {
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/gone")));
  }  // closed at once
  {
    // Leaves in the middle of the headers.
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), "GET /half HTTP/1.1\r\nHo"));
  }
  REQUIRE(TestServer::WaitFor([&] { return late.answered.load() == 5; }));
  // Every session ends: the written responses failed quietly or went nowhere.
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
  StatusOr<ClientResponse> response = Fetch(server.port(), "GET", "/still-here");
  REQUIRE(response.ok());
  CHECK(response->body() == "late /still-here\n");
  late.Join();
}

TEST_CASE("A handler that drops respond frees the session", "[server]") {
  TestServer server([](const Request&, Respond) {});
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/")));
  CHECK(WaitForClose(fd.get()));
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("A keep-alive connection idle past the idle timeout is closed", "[server]") {
  ServerOptions options;
  options.idle_timeout = 300ms;
  options.read_timeout = 5s;
  TestServer server(Echo, options);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  std::string pending;
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/first")));
  REQUIRE(ReadResponse(fd.get(), pending).ok());
  // Within the idle timeout the connection is reused.
  std::this_thread::sleep_for(100ms);
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/second")));
  REQUIRE(ReadResponse(fd.get(), pending).ok());
  const auto start = std::chrono::steady_clock::now();
  CHECK(WaitForClose(fd.get(), 3s));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 250ms);
  CHECK(waited < 2s);
}

TEST_CASE("A request trickled a byte at a time is cut off at the read timeout", "[server]") {
  ServerOptions options;
  options.read_timeout = 500ms;
  options.idle_timeout = 10s;
  TestServer server(Echo, options);
  REQUIRE(server.ok());
  ScopedFd slow = Connect(server.port());
  const std::string request = RequestBytes("GET", "/slowloris-with-a-long-target");
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // Each byte comes well within any per-read timeout; only the whole-request deadline stops it.
  for (char c : request) {
    if (!SendAll(slow.get(), std::string_view(&c, 1))) {
      closed = true;
      break;
    }
    if (WaitForClose(slow.get(), 50ms)) {
      closed = true;
      break;
    }
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(closed);
  CHECK(waited >= 400ms);
  CHECK(waited < 2s);
  // A normal request meanwhile is served.
  StatusOr<ClientResponse> ok = Fetch(server.port(), "GET", "/fine");
  REQUIRE(ok.ok());
  CHECK(ok->result_int() == 200);
}

TEST_CASE("The idle timeout does not stretch the read of a begun request", "[server]") {
  ServerOptions options;
  options.read_timeout = 300ms;
  options.idle_timeout = 10s;
  TestServer server(Echo, options);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  std::string pending;
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/first")));
  REQUIRE(ReadResponse(fd.get(), pending).ok());
  // The second request starts after a pause shorter than the idle timeout, then stalls.
  std::this_thread::sleep_for(500ms);
  REQUIRE(SendAll(fd.get(), "GET /second HTTP/1.1\r\n"));
  const auto start = std::chrono::steady_clock::now();
  CHECK(WaitForClose(fd.get(), 3s));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 250ms);
  CHECK(waited < 2s);
}

TEST_CASE("A new connection that sends nothing is closed at the read timeout", "[server]") {
  ServerOptions options;
  options.read_timeout = 300ms;
  options.idle_timeout = 10s;
  TestServer server(Echo, options);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  const auto start = std::chrono::steady_clock::now();
  CHECK(WaitForClose(fd.get(), 3s));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 250ms);
  CHECK(waited < 2s);
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("Stop closes idle connections and lets requests in flight finish", "[server]") {
  LateResponder late(300ms);
  TestServer server(late.Handler());
  REQUIRE(server.ok());
  const unsigned short port = server.port();
  ScopedFd idle = Connect(port);
  ScopedFd busy = Connect(port);
  REQUIRE(SendAll(busy.get(), RequestBytes("GET", "/busy")));
  REQUIRE(TestServer::WaitFor([&] { return late.received.load() == 1; }));
  REQUIRE(server.server().active_sessions() == 2);
  server.server().Stop();
  CHECK(WaitForClose(idle.get(), 2s));
  std::string pending;
  StatusOr<ClientResponse> response = ReadResponse(busy.get(), pending);
  INFO(response.status().message());
  REQUIRE(response.ok());
  CHECK(response->body() == "late /busy\n");
  CHECK_FALSE(response->keep_alive());
  CHECK(WaitForClose(busy.get(), 2s));
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
  // No longer accepting.
  CHECK(TestServer::WaitFor([&] { return !Connect(port).valid(); }));
  late.Join();
}

TEST_CASE("CloseAllSessions drops requests in flight", "[server]") {
  LateResponder late(300ms);
  TestServer server(late.Handler());
  REQUIRE(server.ok());
  ScopedFd busy = Connect(server.port());
  REQUIRE(SendAll(busy.get(), RequestBytes("GET", "/busy")));
  REQUIRE(TestServer::WaitFor([&] { return late.received.load() == 1; }));
  server.server().CloseAllSessions();
  CHECK(WaitForClose(busy.get(), 250ms));
  late.Join();  // respond() on a closed session is a no-op
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("Binding a port in use fails with a clear message", "[server]") {
  TestServer first(Echo);
  REQUIRE(first.ok());
  boost::asio::io_context io_context;
  const std::string listen = StrCat("127.0.0.1:", first.port());
  StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Create(io_context, listen, Echo);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message() ==
        StrCat("listen ", listen,
               ": Address already in use; stop the other process or pass --listen HOST:PORT"));

  StatusOr<std::unique_ptr<HttpServer>> bad = HttpServer::Create(io_context, "nonsense", Echo);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "bad --listen 'nonsense': expected HOST:PORT, e.g. 127.0.0.1:6060");

  StatusOr<std::unique_ptr<HttpServer>> foreign =
      HttpServer::Create(io_context, "192.0.2.1:6060", Echo);
  REQUIRE_FALSE(foreign.ok());
  CHECK_THAT(foreign.status().message(),
             Catch::StartsWith("listen 192.0.2.1:6060: Cannot assign requested address; use an "
                               "address of this host"));
}

TEST_CASE("Server listens on IPv6 loopback when asked", "[server]") {
  boost::asio::io_context io_context;
  StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(io_context, "[::1]:0", Echo);
  if (!server.ok()) {
    // Only acceptable reason: no IPv6 on this host; say so loudly rather than skip silently.
    FAIL("IPv6 loopback unavailable: " << server.status().message());
  }
  CHECK((*server)->local_endpoint().address().is_v6());
  CHECK((*server)->local_endpoint().port() != 0);
}

}  // namespace
}  // namespace pprofd::http
