#include "agent/metrics/agent_routes.h"

#include <boost/beast/http/field.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/agent_metrics.h"

namespace pprofd::metrics {
namespace {

namespace beast_http = boost::beast::http;

http::Request MakeRequest(std::string_view target,
                          beast_http::verb method = beast_http::verb::get) {
  http::Request request(method, std::string(target), 11);
  return request;
}

// Stands in for the /debug/pprof/* routes: answers with the status the test chooses, at once or
// later from another thread (as a CPU profile does), and remembers what it was asked.
struct FakeInner {
  beast_http::status status = beast_http::status::ok;
  bool answer_later = false;
  bool answer_twice = false;
  std::vector<std::string> targets;
  std::vector<std::thread> later;

  ~FakeInner() {
    for (auto& thread : later) thread.join();
  }

  http::RequestHandler Handler() {
    return [this](const http::Request& request, http::Respond respond) {
      targets.emplace_back(request.target());
      auto answer = [respond, status = status, twice = answer_twice] {
        respond(http::TextResponse(status, "inner"));
        if (twice) respond(http::TextResponse(beast_http::status::internal_server_error, "again"));
      };
      if (answer_later) {
        later.emplace_back(answer);
      } else {
        answer();
      }
    };
  }
};

// Calls the routes and returns the (first) response.
std::optional<http::Response> Call(const AgentRoutes& routes, const http::Request& request) {
  std::optional<http::Response> response;
  routes(request, [&response](http::Response r) {
    if (!response) response = std::move(r);
  });
  return response;
}

double Requests(Registry& registry, const std::string& endpoint, const std::string& code) {
  return registry.Get(kHttpRequests, {{"endpoint", endpoint}, {"code", code}}).value_or(0);
}

}  // namespace

TEST_CASE("EndpointLabel names known routes and folds everything else into other") {
  CHECK(EndpointLabel("/metrics") == "metrics");
  CHECK(EndpointLabel("/metrics?x=1") == "metrics");
  CHECK(EndpointLabel("/healthz") == "healthz");
  CHECK(EndpointLabel("/debug/pprof/") == "index");
  CHECK(EndpointLabel("/debug/pprof") == "index");
  CHECK(EndpointLabel("/debug/pprof/profile?seconds=5") == "profile");
  CHECK(EndpointLabel("/debug/pprof/%70rofile") == "profile");  // decoded as the routes do
  for (const char* name :
       {"heap", "allocs", "threads", "goroutine", "block", "mutex", "cmdline", "symbol"}) {
    CHECK(EndpointLabel(std::string("/debug/pprof/") + name) == name);
  }
  CHECK(EndpointLabel("/debug/pprof/nosuch") == "other");
  CHECK(EndpointLabel("/debug/pprof/profile/extra") == "other");
  CHECK(EndpointLabel("/wp-login.php") == "other");
  CHECK(EndpointLabel("/%zz") == "other");
  CHECK(EndpointLabel("") == "other");
  CHECK(EndpointLabel("/metrics/") == "other");
}

TEST_CASE("/metrics answers the registry in the Prometheus text format") {
  Registry registry;
  FakeInner inner;
  AgentRoutes routes(inner.Handler(), &registry);
  auto response = Call(routes, MakeRequest("/metrics"));
  REQUIRE(response);
  CHECK(response->result() == beast_http::status::ok);
  CHECK(response->at(beast_http::field::content_type) ==
        "text/plain; version=0.0.4; charset=utf-8");
  const std::string& body = response->body();
  CHECK(body.find("# TYPE pprofd_http_requests_total counter\n") != std::string::npos);
  CHECK(body.find("pprofd_build_info{version=\"") != std::string::npos);
  CHECK(body.find("\nprocess_resident_memory_bytes ") != std::string::npos);
  CHECK(inner.targets.empty());  // not passed on

  // HEAD as GET; other methods are refused with the allowed ones.
  auto head = Call(routes, MakeRequest("/metrics", beast_http::verb::head));
  REQUIRE(head);
  CHECK(head->result() == beast_http::status::ok);
  auto post = Call(routes, MakeRequest("/metrics", beast_http::verb::post));
  REQUIRE(post);
  CHECK(post->result() == beast_http::status::method_not_allowed);
  CHECK(post->at(beast_http::field::allow) == "GET, HEAD");
  // The first /metrics request shows in the second's body: counted once answered.
  CHECK(Requests(registry, "metrics", "200") == 2);
  CHECK(Requests(registry, "metrics", "405") == 1);
}

TEST_CASE("/healthz answers ok as plain text") {
  Registry registry;
  FakeInner inner;
  AgentRoutes routes(inner.Handler(), &registry);
  auto response = Call(routes, MakeRequest("/healthz"));
  REQUIRE(response);
  CHECK(response->result() == beast_http::status::ok);
  CHECK(response->at(beast_http::field::content_type) == "text/plain; charset=utf-8");
  CHECK(response->body() == "ok\n");
  CHECK(inner.targets.empty());
  CHECK(Requests(registry, "healthz", "200") == 1);
}

TEST_CASE("Other requests go to the inner handler and are counted by endpoint and status") {
  Registry registry;
  FakeInner inner;
  AgentRoutes routes(inner.Handler(), &registry);

  auto profile = Call(routes, MakeRequest("/debug/pprof/profile?seconds=1"));
  REQUIRE(profile);
  CHECK(profile->body() == "inner\n");
  inner.status = beast_http::status::not_found;
  (void)Call(routes, MakeRequest("/debug/pprof/nosuch"));
  (void)Call(routes, MakeRequest("/favicon.ico"));
  inner.status = beast_http::status::bad_request;
  (void)Call(routes, MakeRequest("/debug/pprof/profile?seconds=x"));
  inner.status = beast_http::status::ok;
  (void)Call(routes, MakeRequest("/debug/pprof/"));

  CHECK(inner.targets == std::vector<std::string>{
                             "/debug/pprof/profile?seconds=1", "/debug/pprof/nosuch",
                             "/favicon.ico", "/debug/pprof/profile?seconds=x", "/debug/pprof/"});
  CHECK(Requests(registry, "profile", "200") == 1);
  CHECK(Requests(registry, "profile", "400") == 1);
  CHECK(Requests(registry, "other", "404") == 2);
  CHECK(Requests(registry, "index", "200") == 1);
  const std::string text = registry.Render();
  CHECK(text.find("pprofd_http_requests_total{endpoint=\"other\",code=\"404\"} 2\n") !=
        std::string::npos);
}

TEST_CASE("A response sent later from another thread is counted once, when sent") {
  Registry registry;
  FakeInner inner;
  inner.answer_later = true;
  inner.answer_twice = true;  // the second call is ignored by the server, and by the count
  AgentRoutes routes(inner.Handler(), &registry);
  std::vector<int> codes;
  std::mutex mutex;
  routes(MakeRequest("/debug/pprof/heap"), [&](http::Response r) {
    std::lock_guard lock(mutex);
    codes.push_back(r.result_int());
  });
  for (auto& thread : inner.later) thread.join();
  inner.later.clear();
  CHECK(codes == std::vector<int>{200, 500});  // both reach the server, which drops the second
  CHECK(Requests(registry, "heap", "200") == 1);
  CHECK(Requests(registry, "heap", "500") == 0);
}

}  // namespace pprofd::metrics
