// The /debug/pprof/* endpoints, in the shape Go's net/http/pprof gives them, so `go tool pprof`
// and curl habits carry over. Install as the server's RequestHandler:
//   HttpServer::Create(io_context, listen, PprofRoutes(&backend))
#pragma once

#include "agent/http/http_types.h"
#include "agent/http/pprof_backend.h"

namespace pprofd::http {

class PprofRoutes {
 public:
  // `backend` is not owned; it must outlive every request, including responses still pending.
  explicit PprofRoutes(PprofBackend* backend) : backend_(backend) {}

  // Runs on the session's strand; never blocks (slow work goes to the backend).
  void operator()(const Request& request, Respond respond) const;

 private:
  PprofBackend* backend_;
};

}  // namespace pprofd::http
