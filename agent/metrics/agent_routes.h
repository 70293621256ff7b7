// The agent's own endpoints around the profile routes: /metrics (Prometheus text format) and
// /healthz (liveness), and the count of every request by endpoint and status code. Install as the
// server's handler, wrapping the /debug/pprof/* routes:
//   HttpServer::Create(io, listen, metrics::AgentRoutes(http::PprofRoutes(backend), registry))
#pragma once

#include <string>
#include <string_view>

#include "agent/http/http_types.h"
#include "agent/metrics/registry.h"

namespace pprofd::metrics {

inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// The endpoint label of a request target: the route's name ("profile", "heap", "index" for
// /debug/pprof/, "metrics", "healthz"), or "other", so that scanners probing random paths cannot
// grow the number of series.
std::string EndpointLabel(std::string_view target);

class AgentRoutes {
 public:
  // `registry` is not owned and must outlive every request, including responses still pending.
  // Declares the agent's metrics in it (InstallAgentMetrics).
  AgentRoutes(http::RequestHandler inner, Registry* registry);

  // Runs on the session's strand. Rendering /metrics reads a few /proc files: microseconds.
  void operator()(const http::Request& request, http::Respond respond) const;

 private:
  http::RequestHandler inner_;
  Registry* registry_;
};

}  // namespace pprofd::metrics
