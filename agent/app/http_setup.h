// The agent's HTTP side as the command line asks for it: address, TLS, authentication, limits
// and routes (/debug/pprof/*, /metrics, /healthz).
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "agent/app/config.h"
#include "agent/http/pprof_backend.h"
#include "agent/http/server.h"
#include "agent/metrics/registry.h"
#include "base/status.h"

namespace pprofd {

// Binds and starts serving on `io`. `backend` and `metrics` are not owned and must outlive the
// server. Errors are one line naming the flag at fault (a certificate that does not load, an
// unreadable password file, an address in use).
StatusOr<std::unique_ptr<http::HttpServer>> StartHttpServer(boost::asio::io_context& io,
                                                            const Config& config,
                                                            http::PprofBackend* backend,
                                                            metrics::Registry* metrics);

}  // namespace pprofd
