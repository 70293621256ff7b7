#include "agent/app/http_setup.h"

#include <chrono>
#include <utility>

#include "agent/http/basic_auth.h"
#include "agent/http/concurrency_limit.h"
#include "agent/http/listen_address.h"
#include "agent/http/pprof_routes.h"
#include "agent/http/tls.h"
#include "agent/metrics/agent_routes.h"
#include "base/log.h"

namespace pprofd {

namespace {

// Profiles show the target's memory layout, stacks and argv: say so when anyone on the network
// may fetch them.
void WarnIfExposed(const Config& config, bool authenticated) {
  StatusOr<boost::asio::ip::tcp::endpoint> endpoint = http::ParseListenAddress(config.listen);
  if (!endpoint.ok() || endpoint->address().is_loopback() || authenticated) return;
  LogWarning(StrCat("--listen ", config.listen,
                    " is not a loopback address and neither --tls-client-ca nor "
                    "--basic-auth-file is set: anyone who can reach the port can read the "
                    "target's memory layout, stacks and command line; add one of them, or "
                    "listen on 127.0.0.1"));
}

// The connections the limits cut off, in /metrics. The registry outlives the server: the
// collector reads the server's counters through a weak reference.
void ExportConnectionLimits(const http::HttpServer& server, metrics::Registry* metrics) {
  metrics->Declare("pprofd_http_connections_open", metrics::Type::kGauge,
                   "HTTP connections open now (limit: --max-connections).");
  metrics->Declare("pprofd_http_connections_refused_total", metrics::Type::kCounter,
                   "HTTP connections answered 503 and closed because --max-connections were open.");
  metrics->Declare("pprofd_http_connections_timed_out_total", metrics::Type::kCounter,
                   "HTTP connections closed by a timeout: reason=\"read\" a request not sent whole "
                   "within --read-timeout (slow clients), reason=\"idle\" a keep-alive connection "
                   "idle for --idle-timeout.");
  metrics->Declare("pprofd_http_requests_cancelled_total", metrics::Type::kCounter,
                   "Requests cancelled because their client left before the response was ready "
                   "(their profile window closed, their --max-concurrent slot freed): "
                   "reason=\"client_closed\" the client closed the connection, "
                   "reason=\"client_reset\" the connection failed.");
  // The server's counters only grow and the server lives as long as pprofd: copied in with
  // Set. (Render runs copies of the collectors, so state kept in one would not persist.)
  metrics->AddCollector([weak = server.state()](metrics::Registry& registry) {
    std::shared_ptr<const http::ServerState> state = weak.lock();
    if (!state) return;
    auto count = [](const std::atomic<uint64_t>& counter) {
      return static_cast<double>(counter.load());
    };
    registry.Set("pprofd_http_connections_open", {}, state->active_sessions.load());
    registry.Set("pprofd_http_connections_refused_total", {}, count(state->refused_connections));
    registry.Set("pprofd_http_connections_timed_out_total", {{"reason", "read"}},
                 count(state->read_timeouts));
    registry.Set("pprofd_http_connections_timed_out_total", {{"reason", "idle"}},
                 count(state->idle_timeouts));
    for (http::CancelReason reason :
         {http::CancelReason::kClientClosed, http::CancelReason::kClientReset}) {
      registry.Set("pprofd_http_requests_cancelled_total",
                   {{"reason", std::string(http::CancelReasonLabel(reason))}},
                   count(state->cancelled_requests[static_cast<size_t>(reason)]));
    }
  });
}

}  // namespace

StatusOr<std::unique_ptr<http::HttpServer>> StartHttpServer(boost::asio::io_context& io,
                                                            const Config& config,
                                                            http::PprofBackend* backend,
                                                            metrics::Registry* metrics) {
  http::ServerOptions options;
  options.read_timeout = std::chrono::seconds(config.read_timeout_s);
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
  options.max_connections = config.max_connections;
  if (!config.tls_cert.empty()) {
    auto tls = http::MakeTlsContext({config.tls_cert, config.tls_key, config.tls_client_ca});
    if (!tls.ok()) return tls.status();
    options.tls = std::move(*tls);
  }
  std::shared_ptr<const http::BasicAuth> auth;
  if (!config.basic_auth_file.empty()) {
    StatusOr<http::BasicAuth> loaded = http::BasicAuth::Load(config.basic_auth_file);
    if (!loaded.ok()) return loaded.status();
    auth = std::make_shared<const http::BasicAuth>(std::move(*loaded));
  }
  WarnIfExposed(config, auth != nullptr || !config.tls_client_ca.empty());

  http::PprofRoutesOptions route_options;
  route_options.cmdline = config.cmdline;

  // The request handler, from the inside out: the /debug/pprof/* routes, --max-concurrent in
  // front of them, /metrics and /healthz around both (so refusals are counted too).
  http::RequestHandler handler = metrics::AgentRoutes(
      http::ConcurrencyLimit(http::PprofRoutes(backend, route_options), config.max_concurrent),
      metrics);
  // Authentication wraps everything (but /healthz, see RequireBasicAuth).
  if (auth) handler = http::RequireBasicAuth(auth, std::move(handler));

  auto server = http::HttpServer::Create(io, config.listen, std::move(handler), options);
  if (server.ok() && metrics != nullptr) ExportConnectionLimits(**server, metrics);
  if (server.ok() && (options.tls || auth)) {
    LogInfo(StrCat(
        "serving ", options.tls ? "HTTPS" : "HTTP",
        config.tls_client_ca.empty()
            ? ""
            : ", client certificates signed by " + config.tls_client_ca + " required",
        auth ? StrCat(", Basic auth for ", auth->size(), " user(s) of ", config.basic_auth_file)
             : std::string()));
  }
  return server;
}

}  // namespace pprofd
