// --max-concurrent: the limiter in front of a backend that answers from its own threads, alone
// and behind the routes over real HTTP.
#include "agent/http/concurrency_limit.h"

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "agent/http/pprof_routes.h"
#include "base/log.h"
#include "tests/http/fake_backend.h"
#include "tests/http/test_client.h"
#include "tests/http/test_server.h"

namespace pprofd::http {
namespace {

using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::FakeBackend;
using testing::Fetch;
using testing::HeaderOf;
using testing::TestServer;

constexpr char kLimitMessage[] =
    "too many profile requests at once: 2 are in progress, the --max-concurrent limit; retry "
    "when one finishes, or raise --max-concurrent";

// A request for `target`, as the server hands it to the handler.
Request Get(std::string_view target) {
  Request request(boost::beast::http::verb::get, std::string(target), 11);
  request.set(boost::beast::http::field::host, "test");
  return request;
}

TEST_CASE("One request beyond the limit fails at once, and its place frees on completion",
          "[concurrency_limit]") {
  FakeBackend backend;
  backend.profile_delay = 300ms;
  ConcurrencyLimit limit(PprofRoutes(&backend), 2);
  std::atomic<int> ok{0};
  std::vector<std::string> errors;
  std::mutex mutex;
  auto respond = [&](Response response) {
    if (response.result_int() == 200) {
      ++ok;
      return;
    }
    CHECK(response.result_int() == 503);
    std::lock_guard lock(mutex);
    errors.push_back(response.body());
  };
  // Both held for profile_delay by the fake (its other kinds answer at once, which would race).
  limit(Get("/debug/pprof/profile?seconds=1"), respond);
  limit(Get("/debug/pprof/profile?seconds=1"), respond);
  CHECK(limit.in_flight() == 2);
  // Refused synchronously: kinds share one limit.
  limit(Get("/debug/pprof/heap"), respond);
  limit(Get("/debug/pprof/threads"), respond);
  {
    std::lock_guard lock(mutex);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == std::string(kLimitMessage) + "\n");
  }
  CHECK(limit.rejected() == 2);
  // Symbols, cmdline and the index are not counted.
  std::promise<int> symbol_status;
  limit(Get("/debug/pprof/symbol?0x1"),
        [&](Response response) { symbol_status.set_value(response.result_int()); });
  CHECK(symbol_status.get_future().get() == 200);
  int cmdline_status = 0;
  limit(Get("/debug/pprof/cmdline"),
        [&](Response response) { cmdline_status = response.result_int(); });
  CHECK(cmdline_status == 200);
  CHECK(limit.rejected() == 2);

  REQUIRE(TestServer::WaitFor([&] { return ok.load() == 2; }, 5s));
  CHECK(limit.in_flight() == 0);
  limit(Get("/debug/pprof/profile?seconds=1"), respond);
  CHECK(limit.in_flight() == 1);
  backend.JoinAll();
  CHECK(ok.load() == 3);
  CHECK(limit.in_flight() == 0);
}

// A backend that drops its callbacks uncalled (as one shutting down might).
class DroppingBackend : public FakeBackend {
 public:
  void Profile(const ProfileRequest&, ProfileCallback) override {}
};

TEST_CASE("A response dropped unsent frees its place", "[concurrency_limit]") {
  DroppingBackend backend;
  ConcurrencyLimit limit(PprofRoutes(&backend), 1);
  bool called = false;
  limit(Get("/debug/pprof/profile?seconds=1"), [&](Response) { called = true; });
  CHECK_FALSE(called);
  CHECK(limit.in_flight() == 0);
}

struct LimitedRoutesFixture {
  // The server keeps the limiter, the routes inside it the backend's address; member order makes
  // the backend die first, after its threads are joined while the io_context still runs.
  TestServer server{ConcurrencyLimit(PprofRoutes(&backend), 2)};
  FakeBackend backend;
  ~LimitedRoutesFixture() { backend.JoinAll(); }
};

TEST_CASE_METHOD(LimitedRoutesFixture,
                 "Over HTTP the request beyond --max-concurrent gets 503 with X-Go-Pprof",
                 "[concurrency_limit]") {
  backend.profile_delay = 500ms;
  REQUIRE(server.ok());
  std::vector<std::future<StatusOr<ClientResponse>>> responses;
  for (int i = 0; i < 3; ++i) {
    responses.push_back(std::async(std::launch::async, [&] {
      return Fetch(server.port(), "GET", "/debug/pprof/profile?seconds=1");
    }));
  }
  int ok = 0;
  int unavailable = 0;
  for (auto& future : responses) {
    StatusOr<ClientResponse> response = future.get();
    REQUIRE(response.ok());
    if (response->result_int() == 200) ++ok;
    if (response->result_int() == 503) {
      ++unavailable;
      CHECK(HeaderOf(*response, "X-Go-Pprof") == "1");
      CHECK(response->body() == std::string(kLimitMessage) + "\n");
    }
  }
  CHECK(ok == 2);
  CHECK(unavailable == 1);
  CHECK(backend.max_in_flight() == 2);
  // Places are free again.
  StatusOr<ClientResponse> again = Fetch(server.port(), "GET", "/debug/pprof/profile?seconds=1");
  REQUIRE(again.ok());
  CHECK(again->result_int() == 200);
  backend.JoinAll();
}

}  // namespace
}  // namespace pprofd::http
