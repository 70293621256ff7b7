// The HTTP listener: accepts connections on one address and runs a Session for each, all on the
// io_context passed to Create (run it on one or more threads; each session has its own strand).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string_view>

#include "agent/http/http_types.h"
#include "agent/http/server_state.h"
#include "base/status.h"

namespace pprofd::http {

class Listener;

class HttpServer {
 public:
  // Parses `listen` (see ParseListenAddress), binds, listens and starts accepting; requests are
  // served once `io_context` runs. Errors are one line, e.g. "listen 127.0.0.1:6060: Address
  // already in use; stop the other process or pass --listen HOST:PORT".
  static StatusOr<std::unique_ptr<HttpServer>> Create(boost::asio::io_context& io_context,
                                                      std::string_view listen,
                                                      RequestHandler handler,
                                                      ServerOptions options = {});
  static StatusOr<std::unique_ptr<HttpServer>> Create(
      boost::asio::io_context& io_context, const boost::asio::ip::tcp::endpoint& endpoint,
      RequestHandler handler, ServerOptions options = {});

  // Stops accepting (as Stop()). Sessions still waiting for a response live on until it arrives.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address; with port 0 requested, the port the kernel chose.
  const boost::asio::ip::tcp::endpoint& local_endpoint() const { return local_endpoint_; }

  // Thread-safe, idempotent. Closes the listening socket and idle connections; requests in flight
  // get their response and then their connection closes. The io_context runs out of work once
  // active_sessions() reaches 0 (and nothing else uses it).
  void Stop();
  // Thread-safe. Closes every connection now, in flight or not (for a shutdown deadline).
  void CloseAllSessions();

  // Sessions alive, including those whose client left while their response is being built.
  int active_sessions() const;

  // Connections the limits cut off since the start (see ServerOptions).
  struct LimitCounts {
    uint64_t refused_connections = 0;
    uint64_t read_timeouts = 0;
    uint64_t idle_timeouts = 0;
  };
  LimitCounts limit_counts() const;
  // The state the counters live in, for a /metrics collector that may outlive this object.
  std::weak_ptr<const ServerState> state() const { return state_; }

 private:
  HttpServer(std::shared_ptr<Listener> listener, boost::asio::ip::tcp::endpoint local_endpoint,
             std::shared_ptr<ServerState> state);

  std::shared_ptr<Listener> listener_;
  boost::asio::ip::tcp::endpoint local_endpoint_;
  std::shared_ptr<ServerState> state_;
};

}  // namespace pprofd::http
