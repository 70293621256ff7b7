// State shared by the server and its sessions. Sessions hold it by shared_ptr, so they may outlive
// the HttpServer object (a session waiting for a slow profile keeps it alive).
#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "agent/http/http_types.h"

namespace pprofd::http {

class Session;

struct ServerOptions {
  // Beyond these a request gets 431 / 413. The body limit fits pprof's POSTs to /symbol, which
  // carry every unsymbolized address at once (about 19 bytes each).
  size_t header_limit = 8 * 1024;
  size_t body_limit = 1024 * 1024;
  // From the first byte of a request to its last (so a client trickling its headers, slowloris,
  // is cut off); also bounds the TLS handshake and a new connection's first byte.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(10);
  // A keep-alive connection whose next request has not sent a byte for this long is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Bounds writing one response to a client that stopped reading.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // After an error response the server drains the client's unread bytes this long before closing,
  // so the client sees the response rather than a reset.
  std::chrono::milliseconds linger_timeout = std::chrono::seconds(2);
  // Connections open at once; one more is answered with a one-line 503 and closed at once (each
  // costs a descriptor, and pprofd shares its descriptor limit with the target's ELF files).
  // 0: no limit.
  int max_connections = 256;
  // Serve HTTPS with this context (see tls.h); null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

struct ServerState {
  ServerState(RequestHandler h, ServerOptions o) : handler(std::move(h)), options(std::move(o)) {}

  const RequestHandler handler;
  const ServerOptions options;
  std::atomic<int> active_sessions{0};
  std::atomic<bool> stopping{false};
  // What the limits cut off, for /metrics.
  std::atomic<uint64_t> refused_connections{0};  // over max_connections
  std::atomic<uint64_t> read_timeouts{0};  // request (or TLS handshake) not in by read_timeout
  std::atomic<uint64_t> idle_timeouts{0};  // keep-alive connection idle past idle_timeout
  // Requests cancelled because their client left before the response, by CancelReason.
  std::atomic<uint64_t> cancelled_requests[2] = {0, 0};

  // Sessions alive, for Stop(); expired entries are pruned on each accept.
  std::mutex mutex;
  std::vector<std::weak_ptr<Session>> sessions;  // guarded by mutex
};

}  // namespace pprofd::http
