// The /debug/pprof/* routes over real HTTP, against a fake backend that answers from its own
// threads.
#include "agent/http/pprof_routes.h"

#include <catch2/catch.hpp>
#include <thread>

#include "base/log.h"
#include "tests/http/fake_backend.h"
#include "tests/http/test_client.h"
#include "tests/http/test_server.h"

namespace pprofd::http {
namespace {

using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::Connect;
using testing::FakeBackend;
using testing::Fetch;
using testing::HeaderOf;
using testing::ReadResponse;
using testing::RequestBytes;
using testing::SendAll;
using testing::TestServer;

struct RoutesFixture {
  // The server keeps only the backend's address; member order makes the backend die first.
  TestServer server{PprofRoutes(&backend)};
  FakeBackend backend;

  // Joins the backend's threads while the io_context still runs, so their responses land.
  ~RoutesFixture() { backend.JoinAll(); }

  ClientResponse Get(std::string_view target, std::string_view method = "GET",
                     std::string_view body = {}) {
    StatusOr<ClientResponse> response = Fetch(server.port(), method, target, body);
    if (!response.ok()) FAIL(method << " " << target << ": " << response.status().message());
    return std::move(*response);
  }
};

void CheckPprofError(const ClientResponse& response, unsigned status, const std::string& body) {
  CHECK(response.result_int() == status);
  CHECK(HeaderOf(response, "X-Go-Pprof") == "1");
  CHECK_THAT(HeaderOf(response, "Content-Type"), Catch::StartsWith("text/plain"));
  CHECK(response.body() == body + "\n");
}

TEST_CASE_METHOD(RoutesFixture, "Index lists the profiles with links", "[routes]") {
  REQUIRE(server.ok());
  ClientResponse response = Get("/debug/pprof/");
  CHECK(response.result_int() == 200);
  CHECK(HeaderOf(response, "Content-Type") == "text/html; charset=utf-8");
  const std::string& html = response.body();
  CHECK_THAT(html, Catch::Contains("<a href=\"profile?seconds=30\">profile</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"cmdline\">cmdline</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"heap?debug=1\">heap</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"allocs?debug=1\">allocs</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"symbol\">symbol</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"threads?debug=2\">threads</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"goroutine?debug=1\">goroutine</a>"));
  CHECK_THAT(html, Catch::Contains("<a href=\"block?debug=1\">block</a>"));
  for (const char* delta : {"delta_heap", "delta_block", "delta_mutex"}) {
    CHECK_THAT(html, Catch::Contains(std::string("<a href=\"") + delta + "\">" + delta + "</a>"));
  }
  CHECK_THAT(html, Catch::Contains("<a href=\"mutex?debug=1\">mutex</a>"));
  CHECK_THAT(html, Catch::Contains("CPU profile"));
  CHECK_THAT(html, Catch::Contains("go tool pprof http://test/debug/pprof/profile?seconds=30"));

  ClientResponse redirect = Get("/debug/pprof");
  CHECK(redirect.result_int() == 301);
  CHECK(HeaderOf(redirect, "Location") == "/debug/pprof/");
}

TEST_CASE_METHOD(RoutesFixture, "Profile returns the backend's bytes with Go's headers",
                 "[routes]") {
  REQUIRE(server.ok());
  ClientResponse response = Get("/debug/pprof/profile?seconds=5&hz=250&debug=1&unknown=x");
  CHECK(response.result_int() == 200);
  CHECK(HeaderOf(response, "Content-Type") == "application/octet-stream");
  CHECK(HeaderOf(response, "Content-Disposition") == "attachment; filename=\"profile\"");
  CHECK(HeaderOf(response, "X-Go-Pprof").empty());
  CHECK(response.body() == "profile seconds=5 hz=250");

  ClientResponse defaults = Get("/debug/pprof/profile");
  CHECK(defaults.body() == "profile seconds=30 hz=99");
  ClientResponse edges = Get("/debug/pprof/profile?seconds=300&hz=1");
  CHECK(edges.body() == "profile seconds=300 hz=1");
  ClientResponse encoded = Get("/debug/pprof/profile?%73econds=%32");
  CHECK(encoded.body() == "profile seconds=2 hz=99");

  std::vector<ProfileRequest> requests = backend.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].seconds == 5);
  CHECK(requests[0].hz == 250);
}

TEST_CASE_METHOD(RoutesFixture, "Bad profile parameters give 400 naming the range", "[routes]") {
  REQUIRE(server.ok());
  for (const char* value : {"abc", "0", "-1", "301", "1.5", "", "1e2", "%20"}) {
    INFO(value);
    const std::string shown = std::string(value) == "%20" ? " " : value;
    CheckPprofError(Get(StrCat("/debug/pprof/profile?seconds=", value)), 400,
                    StrCat("bad seconds=", shown, ": want an integer from 1 to 300"));
  }
  for (const char* value : {"0", "1001", "fast", "-5"}) {
    INFO(value);
    CheckPprofError(Get(StrCat("/debug/pprof/profile?seconds=1&hz=", value)), 400,
                    StrCat("bad hz=", value, ": want an integer from 1 to 1000"));
  }
  CheckPprofError(Get("/debug/pprof/profile?seconds=%zz"), 400,
                  "bad query: invalid escape '%zz': want % followed by two hex digits");
  CHECK(backend.requests().empty());
}

TEST_CASE_METHOD(RoutesFixture, "Backend failures map to 500 and 503", "[routes]") {
  REQUIRE(server.ok());
  backend.profile_error = "target 123 exited";
  backend.profile_error_kind = BackendErrorKind::kUnavailable;
  CheckPprofError(Get("/debug/pprof/profile?seconds=1"), 503, "target 123 exited");
  backend.JoinAll();
  backend.profile_error = "encoding profile: out of memory";
  backend.profile_error_kind = BackendErrorKind::kInternal;
  CheckPprofError(Get("/debug/pprof/profile?seconds=1"), 500, "encoding profile: out of memory");
  backend.JoinAll();
  backend.cmdline_error = "read /proc/123/cmdline: No such process";
  CheckPprofError(Get("/debug/pprof/cmdline"), 503, "read /proc/123/cmdline: No such process");
}

TEST_CASE_METHOD(RoutesFixture, "Two overlapping profile requests both succeed", "[routes]") {
  REQUIRE(server.ok());
  backend.profile_delay = 400ms;
  const auto start = std::chrono::steady_clock::now();
  ScopedFd a = Connect(server.port());
  ScopedFd b = Connect(server.port());
  REQUIRE(SendAll(a.get(), RequestBytes("GET", "/debug/pprof/profile?seconds=1")));
  REQUIRE(SendAll(b.get(), RequestBytes("GET", "/debug/pprof/profile?seconds=2&hz=500")));
  std::string pending_a, pending_b;
  StatusOr<ClientResponse> ra = ReadResponse(a.get(), pending_a);
  StatusOr<ClientResponse> rb = ReadResponse(b.get(), pending_b);
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(ra->result_int() == 200);
  CHECK(rb->result_int() == 200);
  CHECK(ra->body() == "profile seconds=1 hz=99");
  CHECK(rb->body() == "profile seconds=2 hz=500");
  CHECK(backend.max_in_flight() == 2);
  CHECK(std::chrono::steady_clock::now() - start < 750ms);
  // Meanwhile-style check: the index is served while profiles are pending.
  backend.profile_delay = 500ms;
  ScopedFd c = Connect(server.port());
  REQUIRE(SendAll(c.get(), RequestBytes("GET", "/debug/pprof/profile?seconds=1")));
  const auto index_start = std::chrono::steady_clock::now();
  CHECK(Get("/debug/pprof/").result_int() == 200);
  CHECK(std::chrono::steady_clock::now() - index_start < 250ms);
  std::string pending_c;
  StatusOr<ClientResponse> rc = ReadResponse(c.get(), pending_c);
  REQUIRE(rc.ok());
  CHECK(rc->result_int() == 200);
}

TEST_CASE_METHOD(RoutesFixture, "A profile client that hangs up does not disturb the server",
                 "[routes]") {
  REQUIRE(server.ok());
  backend.profile_delay = 200ms;
  for (int i = 0; i < 3; ++i) {
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/debug/pprof/profile?seconds=1")));
  }  // hung up before the profile is ready
  REQUIRE(TestServer::WaitFor([&] { return backend.requests().size() == 3; }));
  backend.JoinAll();  // all three responses were delivered to dead connections
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
  backend.profile_delay = 0ms;
  ClientResponse response = Get("/debug/pprof/profile?seconds=3");
  CHECK(response.result_int() == 200);
  CHECK(response.body() == "profile seconds=3 hz=99");
}

TEST_CASE_METHOD(RoutesFixture, "Unknown paths and methods", "[routes]") {
  REQUIRE(server.ok());
  CheckPprofError(Get("/debug/pprof/heapz"), 404,
                  "unknown profile \"heapz\": pprofd serves profile, heap, allocs, threads, "
                  "goroutine, block, mutex, delta_heap, delta_block, delta_mutex, cmdline, symbol "
                  "(see /debug/pprof/)");
  ClientResponse other = Get("/metrics-nope");
  CHECK(other.result_int() == 404);
  CHECK(HeaderOf(other, "X-Go-Pprof").empty());
  CHECK(other.body() == "not found: /metrics-nope; pprofd serves profiles under /debug/pprof/\n");

  ClientResponse post = Get("/debug/pprof/profile", "POST", "x");
  CHECK(post.result_int() == 405);
  CHECK(HeaderOf(post, "Allow") == "GET, HEAD");
  CHECK(HeaderOf(post, "X-Go-Pprof") == "1");
  CHECK(post.body() == "method POST not allowed here; use GET, HEAD\n");
  CHECK(Get("/debug/pprof/symbol", "DELETE").result_int() == 405);
  CHECK(Get("/debug/pprof/", "PUT", "x").result_int() == 405);
  CHECK(backend.requests().empty());
}

TEST_CASE_METHOD(RoutesFixture, "Cmdline is the NUL-joined argv", "[routes]") {
  REQUIRE(server.ok());
  ClientResponse response = Get("/debug/pprof/cmdline");
  CHECK(response.result_int() == 200);
  CHECK(HeaderOf(response, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(response.body() == std::string("/usr/bin/target\0--flag\0value", 27));
}

TEST_CASE_METHOD(RoutesFixture, "Symbol speaks Go's protocol", "[routes]") {
  REQUIRE(server.ok());
  backend.symbols = {{0x4a1b2c, "main"}, {0x4a1b30, "compute(int)"}};

  ClientResponse probe = Get("/debug/pprof/symbol");
  CHECK(probe.result_int() == 200);
  CHECK(probe.body() == "num_symbols: 1\n");

  ClientResponse post = Get("/debug/pprof/symbol", "POST", "0x4a1b2c+0x999+0x4a1b30");
  CHECK(post.result_int() == 200);
  CHECK(HeaderOf(post, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(post.body() == "num_symbols: 1\n0x4a1b2c main\n0x4a1b30 compute(int)\n");

  ClientResponse get = Get("/debug/pprof/symbol?0x4a1b30");
  CHECK(get.body() == "num_symbols: 1\n0x4a1b30 compute(int)\n");

  ClientResponse empty_post = Get("/debug/pprof/symbol", "POST", "");
  CHECK(empty_post.body() == "num_symbols: 1\n");

  CheckPprofError(Get("/debug/pprof/symbol", "POST", "0x4a1b2c+main"), 400,
                  "bad symbol address 'main': want 0x-prefixed hex addresses joined by '+', "
                  "e.g. 0x4a1b2c+0x4a1b30");

  backend.drop_last_symbol = true;
  CheckPprofError(Get("/debug/pprof/symbol", "POST", "0x4a1b2c+0x4a1b30"), 500,
                  "symbol lookup returned 1 names for 2 addresses");
}

TEST_CASE_METHOD(RoutesFixture, "HEAD of the index sends no body", "[routes]") {
  REQUIRE(server.ok());
  ClientResponse head = Get("/debug/pprof/", "HEAD");
  CHECK(head.result_int() == 200);
  CHECK(head.body().empty());
  CHECK(std::stoul(HeaderOf(head, "Content-Length")) > 100);
}

}  // namespace
}  // namespace pprofd::http

namespace pprofd::http {
namespace {

TEST_CASE_METHOD(RoutesFixture, "Heap and allocs pass kind, seconds and debug", "[routes]") {
  REQUIRE(server.ok());
  ClientResponse heap = Get("/debug/pprof/heap");
  CHECK(heap.result_int() == 200);
  CHECK(HeaderOf(heap, "Content-Type") == "application/octet-stream");
  CHECK(HeaderOf(heap, "Content-Disposition") == "attachment; filename=\"heap\"");
  CHECK(heap.body() == "heap seconds=0 debug=0");

  ClientResponse allocs = Get("/debug/pprof/allocs?seconds=7");
  CHECK(HeaderOf(allocs, "Content-Disposition") == "attachment; filename=\"allocs\"");
  CHECK(allocs.body() == "allocs seconds=7 debug=0");

  // Go's legacy text form is plain text, shown in a browser.
  ClientResponse text = Get("/debug/pprof/heap?debug=1");
  CHECK(text.result_int() == 200);
  CHECK(HeaderOf(text, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(HeaderOf(text, "Content-Disposition").empty());
  CHECK(text.body() == "heap seconds=0 debug=1");

  std::vector<ProfileRequest> requests = backend.heap_requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].type == "allocs");
  CHECK(requests[2].type == "heap");
}

TEST_CASE_METHOD(RoutesFixture, "Bad heap parameters give 400 and reach no backend", "[routes]") {
  REQUIRE(server.ok());
  CheckPprofError(Get("/debug/pprof/heap?seconds=1&debug=1"), 400,
                  "a delta profile (seconds) has no text form: drop debug, or drop seconds for "
                  "the text form of the whole profile");
  CheckPprofError(Get("/debug/pprof/heap?seconds=0"), 400,
                  "bad seconds=0: want an integer from 1 to 300");
  CheckPprofError(Get("/debug/pprof/allocs?debug=x"), 400,
                  "bad debug=x: want an integer from 0 to 2");
  CHECK(Get("/debug/pprof/heap", "POST").result_int() == 405);
  CHECK(backend.heap_requests().empty());
}

TEST_CASE_METHOD(RoutesFixture, "Heap backend errors map to 400, 501 and 503", "[routes]") {
  REQUIRE(server.ok());
  backend.profile_error = "heap tracking is off: start pprofd with --heap";
  backend.profile_error_kind = BackendErrorKind::kBadRequest;
  CheckPprofError(Get("/debug/pprof/heap"), 400, "heap tracking is off: start pprofd with --heap");
  backend.profile_error_kind = BackendErrorKind::kNotImplemented;
  CHECK(Get("/debug/pprof/heap").result_int() == 501);
  backend.profile_error_kind = BackendErrorKind::kUnavailable;
  CHECK(Get("/debug/pprof/allocs?seconds=1").result_int() == 503);
}

TEST_CASE_METHOD(RoutesFixture, "Threads and goroutine serve the snapshot in three forms",
                 "[routes]") {
  REQUIRE(server.ok());
  ClientResponse threads = Get("/debug/pprof/threads");
  CHECK(threads.result_int() == 200);
  CHECK(HeaderOf(threads, "Content-Type") == "application/octet-stream");
  CHECK(HeaderOf(threads, "Content-Disposition") == "attachment; filename=\"threads\"");
  CHECK(threads.body() == "threads debug=0");

  ClientResponse goroutine = Get("/debug/pprof/goroutine");
  CHECK(HeaderOf(goroutine, "Content-Disposition") == "attachment; filename=\"goroutine\"");

  for (const char* path : {"/debug/pprof/threads?debug=1", "/debug/pprof/goroutine?debug=2"}) {
    ClientResponse text = Get(path);
    CHECK(text.result_int() == 200);
    CHECK(HeaderOf(text, "Content-Type") == "text/plain; charset=utf-8");
    CHECK(HeaderOf(text, "Content-Disposition").empty());
  }
  std::vector<ProfileRequest> requests = backend.thread_requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[2].debug == 1);
  CHECK(requests[3].debug == 2);

  CheckPprofError(Get("/debug/pprof/threads?debug=3"), 400,
                  "bad debug=3: want an integer from 0 to 2");
  CHECK(Get("/debug/pprof/threads", "POST").result_int() == 405);
  CHECK(backend.thread_requests().size() == 4);
}

TEST_CASE_METHOD(RoutesFixture,
                 "Block and mutex answer at once without seconds (since tracking began), and "
                 "are windows with seconds",
                 "[routes]") {
  REQUIRE(server.ok());
  ClientResponse block = Get("/debug/pprof/block");
  CHECK(block.result_int() == 200);
  CHECK(HeaderOf(block, "Content-Type") == "application/octet-stream");
  CHECK(HeaderOf(block, "Content-Disposition") == "attachment; filename=\"block\"");
  CHECK(block.body() == "block seconds=0 debug=0");
  // A window keeps its text form, as before.
  CHECK(Get("/debug/pprof/block?seconds=3&debug=1").body() == "block seconds=3 debug=1");
  ClientResponse mutex = Get("/debug/pprof/mutex?seconds=2&debug=1");
  CHECK(HeaderOf(mutex, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(mutex.body() == "mutex seconds=2 debug=1");

  CheckPprofError(Get("/debug/pprof/block?seconds=0"), 400,
                  "bad seconds=0: want an integer from 1 to 300");
  CheckPprofError(Get("/debug/pprof/mutex?seconds=301"), 400,
                  "bad seconds=301: want an integer from 1 to 300");
  CheckPprofError(Get("/debug/pprof/mutex?debug=2"), 400,
                  "bad debug=2: want an integer from 0 to 1");
  CHECK(backend.offcpu_requests().size() == 3);
  // godeltaprof's paths: no seconds, no text form.
  ClientResponse delta = Get("/debug/pprof/delta_mutex?seconds=5");
  CHECK(delta.result_int() == 200);
  CHECK(HeaderOf(delta, "Content-Type") == "application/octet-stream");
  CHECK(delta.body() == "delta_mutex seconds=0 debug=0");

  backend.profile_error = "off-CPU profiles need bpf_get_task_stack (Linux 5.9 or later)";
  backend.profile_error_kind = BackendErrorKind::kNotImplemented;
  CheckPprofError(Get("/debug/pprof/block?seconds=1"), 501,
                  "off-CPU profiles need bpf_get_task_stack (Linux 5.9 or later)");
  backend.profile_error_kind = BackendErrorKind::kUnavailable;
  CHECK(Get("/debug/pprof/threads").result_int() == 503);
}

}  // namespace
}  // namespace pprofd::http

namespace pprofd::http {
namespace {

struct NoCmdlineFixture {
  TestServer server{PprofRoutes(&backend, PprofRoutesOptions{.cmdline = false})};
  testing::FakeBackend backend;
  ~NoCmdlineFixture() { backend.JoinAll(); }
};

TEST_CASE_METHOD(NoCmdlineFixture, "With --no-cmdline, cmdline is 403 and left out of the index",
                 "[routes]") {
  REQUIRE(server.ok());
  StatusOr<ClientResponse> cmdline = Fetch(server.port(), "GET", "/debug/pprof/cmdline");
  REQUIRE(cmdline.ok());
  CheckPprofError(*cmdline, 403,
                  "cmdline is disabled by --no-cmdline (the target's arguments may hold "
                  "secrets); restart pprofd without it to serve them");
  CHECK(cmdline->body().find("/usr/bin/target") == std::string::npos);
  StatusOr<ClientResponse> index = Fetch(server.port(), "GET", "/debug/pprof/");
  REQUIRE(index.ok());
  CHECK(index->result_int() == 200);
  CHECK(index->body().find("cmdline") == std::string::npos);
  CHECK(index->body().find("href=\"symbol\"") != std::string::npos);
  StatusOr<ClientResponse> unknown = Fetch(server.port(), "GET", "/debug/pprof/nope");
  REQUIRE(unknown.ok());
  CHECK(unknown->body().find("cmdline") == std::string::npos);
  // Everything else is still served.
  StatusOr<ClientResponse> threads = Fetch(server.port(), "GET", "/debug/pprof/threads?debug=1");
  REQUIRE(threads.ok());
  CHECK(threads->result_int() == 200);
}

}  // namespace
}  // namespace pprofd::http
