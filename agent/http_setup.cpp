#include "agent/http_setup.h"

#include "agent/http/pprof_routes.h"

namespace pprofd {

StatusOr<std::unique_ptr<http::HttpServer>> StartHttpServer(boost::asio::io_context& io,
                                                            const Config& config,
                                                            http::PprofBackend* backend,
                                                            metrics::Registry* /*metrics*/) {
  http::ServerOptions options;
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_s);
  return http::HttpServer::Create(io, config.listen, http::PprofRoutes(backend), options);
}

}  // namespace pprofd
