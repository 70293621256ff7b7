// The /debug/pprof/* endpoints, in the shape Go's net/http/pprof gives them, so `go tool pprof`
// and curl habits carry over. Install as the server's RequestHandler:
//   HttpServer::Create(io_context, listen, PprofRoutes(&backend))
#pragma once

#include <string_view>

#include "agent/http/http_types.h"
#include "agent/http/pprof_backend.h"

namespace pprofd::http {

struct PprofRoutesOptions {
  // --no-cmdline: /debug/pprof/cmdline answers 403 and the index leaves it out (argv often holds
  // secrets: passwords, tokens, connection strings).
  bool cmdline = true;
};

// Whether `name` (the path after /debug/pprof/) is one of the endpoints PprofRoutes serves, for
// labels of bounded cardinality in /metrics.
bool IsPprofEndpoint(std::string_view name);
// Whether `name` is one whose answer is a profile (not the index, cmdline or symbol): what
// --max-concurrent counts.
bool IsProfileEndpoint(std::string_view name);

class PprofRoutes {
 public:
  // `backend` is not owned; it must outlive every request, including responses still pending.
  explicit PprofRoutes(PprofBackend* backend, PprofRoutesOptions options = {})
      : backend_(backend), options_(options) {}

  // Runs on the session's strand; never blocks (slow work goes to the backend).
  void operator()(const Request& request, Respond respond) const;

 private:
  PprofBackend* backend_;
  PprofRoutesOptions options_;
};

}  // namespace pprofd::http
