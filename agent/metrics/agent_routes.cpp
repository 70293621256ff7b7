#include "agent/metrics/agent_routes.h"

#include <atomic>
#include <memory>
#include <utility>

#include "agent/http/pprof_routes.h"
#include "agent/http/query.h"
#include "agent/metrics/agent_metrics.h"

namespace pprofd::metrics {

namespace beast_http = boost::beast::http;

namespace {

constexpr std::string_view kPprofPrefix = "/debug/pprof/";

http::Response MethodNotAllowed() {
  http::Response response =
      http::TextResponse(beast_http::status::method_not_allowed, "use GET or HEAD");
  response.set(beast_http::field::allow, "GET, HEAD");
  return response;
}

}  // namespace

std::string EndpointLabel(std::string_view target) {
  std::string_view raw_path = target.substr(0, target.find('?'));
  // Decoded as the routes decode it, so /debug/pprof/%70rofile counts as "profile".
  StatusOr<std::string> decoded = http::PercentDecode(raw_path, /*plus_is_space=*/false);
  const std::string path = decoded.ok() ? *decoded : std::string(raw_path);
  if (path == "/metrics") return "metrics";
  if (path == "/healthz") return "healthz";
  if (path == "/debug/pprof" || path == kPprofPrefix) return "index";
  if (path.starts_with(kPprofPrefix)) {
    const std::string_view name = std::string_view(path).substr(kPprofPrefix.size());
    if (http::IsPprofEndpoint(name)) return std::string(name);
  }
  return "other";
}

AgentRoutes::AgentRoutes(http::RequestHandler inner, Registry* registry)
    : inner_(std::move(inner)), registry_(registry) {
  InstallAgentMetrics(*registry_);
}

void AgentRoutes::operator()(const http::Request& request, http::Respond respond) const {
  const std::string endpoint =
      EndpointLabel(std::string_view(request.target().data(), request.target().size()));
  // Counted when answered, with the status sent. The server ignores calls after the first; so
  // does the count.
  http::Respond counted = [registry = registry_, endpoint, respond = std::move(respond),
                           answered = std::make_shared<std::atomic<bool>>(false)](
                              http::Response response) {
    if (!answered->exchange(true)) {
      registry->Increment(
          kHttpRequests, {{"endpoint", endpoint}, {"code", std::to_string(response.result_int())}});
    }
    respond(std::move(response));
  };

  const bool get_or_head =
      request.method() == beast_http::verb::get || request.method() == beast_http::verb::head;
  if (endpoint == "metrics") {
    if (!get_or_head) return counted(MethodNotAllowed());
    http::Response response(beast_http::status::ok, 11);
    response.set(beast_http::field::content_type, kMetricsContentType);
    response.set("X-Content-Type-Options", "nosniff");
    response.body() = registry_->Render();
    return counted(std::move(response));
  }
  if (endpoint == "healthz") {
    // Liveness of the agent itself: answered while it serves, whatever the target is doing
    // (gone, restarting); profile requests say what is wrong with the target.
    if (!get_or_head) return counted(MethodNotAllowed());
    return counted(http::TextResponse(beast_http::status::ok, "ok"));
  }
  inner_(request, std::move(counted));
}

}  // namespace pprofd::metrics
