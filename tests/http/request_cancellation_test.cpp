// A request whose client goes away is cancelled: the signal alone, then the real server over
// real sockets. A client that closes, half-closes (as Go's net/http, EOF cancels) or resets while
// its response is pending fires the request's cancellation and frees its --max-concurrent slot;
// bytes of a pipelined request arriving meanwhile do not, and keep-alive goes on after a
// watched request.
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/http/cancellation.h"
#include "agent/http/concurrency_limit.h"
#include "agent/http/pprof_routes.h"
#include "base/log.h"
#include "tests/http/fake_backend.h"
#include "tests/http/test_client.h"
#include "tests/http/test_server.h"

namespace pprofd::http {
namespace {

using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::Connect;
using testing::ReadResponse;
using testing::RequestBytes;
using testing::SendAll;
using testing::TestServer;
using testing::WaitForClose;

TEST_CASE("A cancellation runs each callback once, late ones at once, unregistered ones never",
          "[cancellation]") {
  Cancellation never;
  CHECK_FALSE(never.can_fire());
  int never_called = 0;
  Cancellation::Registration inert = never.OnCancel([&](CancelReason) { ++never_called; });
  never.Cancel(CancelReason::kClientClosed);
  CHECK(never_called == 0);
  CHECK_FALSE(never.cancelled());

  Cancellation signal = Cancellation::Make();
  Cancellation copy = signal;
  std::vector<CancelReason> seen;
  Cancellation::Registration first = signal.OnCancel([&](CancelReason r) { seen.push_back(r); });
  int dropped_calls = 0;
  {
    Cancellation::Registration dropped = signal.OnCancel([&](CancelReason) { ++dropped_calls; });
  }
  Cancellation::Registration moved = copy.OnCancel([&](CancelReason r) { seen.push_back(r); });
  Cancellation::Registration target = std::move(moved);
  CHECK_FALSE(signal.cancelled());
  copy.Cancel(CancelReason::kClientReset);
  signal.Cancel(CancelReason::kClientClosed);  // fired already: nothing
  CHECK(signal.cancelled());
  CHECK(seen == std::vector<CancelReason>{CancelReason::kClientReset, CancelReason::kClientReset});
  CHECK(dropped_calls == 0);
  Cancellation::Registration late = signal.OnCancel([&](CancelReason r) { seen.push_back(r); });
  CHECK(seen.size() == 3);
  CHECK(CancelReasonLabel(CancelReason::kClientClosed) == "client_closed");
  CHECK(CancelReasonLabel(CancelReason::kClientReset) == "client_reset");
}

// Holds every request unanswered (as a profile window does) and records cancellations; answers
// on demand from another thread.
class Holder {
 public:
  RequestHandler Handler() {
    return [this](const Request& request, Respond respond) {
      auto held = std::make_shared<Held>();
      held->target = std::string(request.target());
      held->respond = std::move(respond);
      held->on_cancel =
          request.cancellation().OnCancel([this, target = held->target](CancelReason reason) {
            std::lock_guard lock(mutex_);
            cancelled_.push_back({target, reason});
          });
      std::lock_guard lock(mutex_);
      held_.push_back(std::move(held));
    };
  }
  // Answers the oldest request held, from another thread.
  void AnswerOldest() {
    std::shared_ptr<Held> held;
    {
      std::lock_guard lock(mutex_);
      REQUIRE(!held_.empty());
      held = held_.front();
      held_.erase(held_.begin());
    }
    std::thread([held] {
      held->respond(TextResponse(boost::beast::http::status::ok, "answer " + held->target));
    }).join();
  }
  // Drops every request held unanswered (what a cancelled window does with its callback).
  void DropAll() {
    std::vector<std::shared_ptr<Held>> dropped;
    std::lock_guard lock(mutex_);
    dropped.swap(held_);
  }
  size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  std::vector<std::pair<std::string, CancelReason>> cancelled() {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

 private:
  struct Held {
    std::string target;
    Respond respond;
    Cancellation::Registration on_cancel;
  };
  std::mutex mutex_;
  std::vector<std::shared_ptr<Held>> held_;
  std::vector<std::pair<std::string, CancelReason>> cancelled_;
};

uint64_t Cancelled(TestServer& server, CancelReason reason) {
  std::shared_ptr<const ServerState> state = server.server().state().lock();
  return state->cancelled_requests[static_cast<size_t>(reason)].load();
}

TEST_CASE("A client that closes while its response is pending cancels the request at once",
          "[cancellation][server]") {
  Holder holder;
  TestServer server(holder.Handler());
  REQUIRE(server.ok());
  {
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/slow")));
    REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
    std::this_thread::sleep_for(50ms);
    CHECK(holder.cancelled().empty());  // waiting is not leaving
  }
  const auto closed = std::chrono::steady_clock::now();
  REQUIRE(TestServer::WaitFor([&] { return holder.cancelled().size() == 1; }));
  CHECK(std::chrono::steady_clock::now() - closed < 1s);
  CHECK(holder.cancelled()[0].first == "/slow");
  CHECK(holder.cancelled()[0].second == CancelReason::kClientClosed);
  CHECK(Cancelled(server, CancelReason::kClientClosed) == 1);
  // Once the handler drops the request, nothing of the session is left.
  holder.DropAll();
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("A client that half-closes is cancelled, as Go does, and told why",
          "[cancellation][server]") {
  Holder holder;
  TestServer server(holder.Handler());
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/half")));
  REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
  REQUIRE(::shutdown(fd.get(), SHUT_WR) == 0);
  REQUIRE(TestServer::WaitFor([&] { return holder.cancelled().size() == 1; }));
  CHECK(holder.cancelled()[0].second == CancelReason::kClientClosed);
  std::string pending;
  StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
  REQUIRE(response.ok());
  CHECK(response->result_int() == 500);
  CHECK((*response)["X-Go-Pprof"] == "1");
  CHECK_THAT(std::string(response->body()),
             Catch::StartsWith("request cancelled: the client closed its side of the connection"));
  CHECK(WaitForClose(fd.get(), 2s));
  // The answer the handler sends later goes nowhere.
  holder.AnswerOldest();
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("A client that resets while its response is pending cancels it",
          "[cancellation][server]") {
  Holder holder;
  TestServer server(holder.Handler());
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/reset")));
  REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
  const linger abort_on_close{1, 0};
  REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close)) ==
          0);
  fd = ScopedFd();  // RST
  REQUIRE(TestServer::WaitFor([&] { return holder.cancelled().size() == 1; }));
  CHECK(holder.cancelled()[0].second == CancelReason::kClientReset);
  CHECK(Cancelled(server, CancelReason::kClientReset) == 1);
  holder.DropAll();
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("Pipelined bytes while a response is pending are the next request, not a hang-up",
          "[cancellation][server]") {
  Holder holder;
  TestServer server(holder.Handler());
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  std::string pending;
  SECTION("sent after the first was dispatched") {
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/first")));
    REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/second")));
  }
  SECTION("sent in the same write") {
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/first") + RequestBytes("GET", "/second")));
    REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
  }
  std::this_thread::sleep_for(100ms);
  CHECK(holder.cancelled().empty());
  CHECK(holder.held() == 1);  // one at a time, in order
  holder.AnswerOldest();
  StatusOr<ClientResponse> first = ReadResponse(fd.get(), pending);
  REQUIRE(first.ok());
  CHECK(first->body() == "answer /first\n");
  REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
  holder.AnswerOldest();
  StatusOr<ClientResponse> second = ReadResponse(fd.get(), pending);
  REQUIRE(second.ok());
  CHECK(second->body() == "answer /second\n");
  CHECK(second->keep_alive());
  CHECK(holder.cancelled().empty());
  CHECK(Cancelled(server, CancelReason::kClientClosed) == 0);
}

TEST_CASE("Keep-alive goes on after a watched request, under the idle timeout",
          "[cancellation][server]") {
  Holder holder;
  ServerOptions options;
  options.idle_timeout = 400ms;
  TestServer server(holder.Handler(), options);
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  std::string pending;
  for (int i = 0; i < 3; ++i) {
    const std::string target = StrCat("/n", i);
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", target)));
    REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
    std::this_thread::sleep_for(20ms);
    holder.AnswerOldest();
    StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
    REQUIRE(response.ok());
    CHECK(response->body() == "answer " + target + "\n");
    CHECK(response->keep_alive());
  }
  // The read that watched the last request now waits for the next one, for the idle timeout.
  const auto answered = std::chrono::steady_clock::now();
  CHECK(WaitForClose(fd.get(), 3s));
  const auto idle = std::chrono::steady_clock::now() - answered;
  CHECK(idle >= 300ms);
  CHECK(idle < 2s);
  CHECK(server.server().limit_counts().idle_timeouts == 1);
  CHECK(holder.cancelled().empty());
  // A client closing between requests cancels nothing.
  ScopedFd other = Connect(server.port());
  REQUIRE(SendAll(other.get(), RequestBytes("GET", "/last")));
  REQUIRE(TestServer::WaitFor([&] { return holder.held() == 1; }));
  holder.AnswerOldest();
  REQUIRE(ReadResponse(other.get(), pending).ok());
  other = ScopedFd();
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
  CHECK(holder.cancelled().empty());
}

TEST_CASE("A client that hangs up frees its --max-concurrent slot and its profile request",
          "[cancellation][concurrency_limit]") {
  // The backend holds profile requests until told, as a window does; it sees the cancellation.
  class HoldingBackend : public testing::FakeBackend {
   public:
    void Profile(const ProfileRequest& request, ProfileCallback done) override {
      std::lock_guard lock(mutex);
      held.push_back({request, std::move(done)});
    }
    std::mutex mutex;
    std::vector<std::pair<ProfileRequest, ProfileCallback>> held;
  };
  HoldingBackend backend;
  ConcurrencyLimit limit(PprofRoutes(&backend), 1);
  TestServer server(limit);
  REQUIRE(server.ok());
  {
    ScopedFd fd = Connect(server.port());
    REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/debug/pprof/profile?seconds=300&hz=1000")));
    REQUIRE(TestServer::WaitFor([&] { return limit.in_flight() == 1; }));
  }
  // The slot comes back at once, though the backend still holds the request.
  REQUIRE(TestServer::WaitFor([&] { return limit.in_flight() == 0; }, 1s));
  {
    std::lock_guard lock(backend.mutex);
    REQUIRE(backend.held.size() == 1);
    CHECK(backend.held[0].first.seconds == 300);  // the fake's maximum
    CHECK(backend.held[0].first.cancellation.cancelled());
  }
  // The next request is admitted, not refused.
  ScopedFd next = Connect(server.port());
  REQUIRE(SendAll(next.get(), RequestBytes("GET", "/debug/pprof/profile?seconds=1")));
  REQUIRE(TestServer::WaitFor([&] {
    std::lock_guard lock(backend.mutex);
    return backend.held.size() == 2;
  }));
  CHECK(limit.rejected() == 0);
  {
    std::lock_guard lock(backend.mutex);
    CHECK_FALSE(backend.held[1].first.cancellation.cancelled());
    backend.held[1].second(std::string("profile"));
  }
  std::string pending;
  StatusOr<ClientResponse> response = ReadResponse(next.get(), pending);
  REQUIRE(response.ok());
  CHECK(response->result_int() == 200);
  std::lock_guard lock(backend.mutex);
  backend.held.clear();
}

}  // namespace
}  // namespace pprofd::http
