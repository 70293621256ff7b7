// State shared by the server and its sessions. Sessions hold it by shared_ptr, so they may outlive
// the HttpServer object (a session waiting for a slow profile keeps it alive).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "agent/http/http_types.h"

namespace pprofd::http {

class Session;

struct ServerOptions {
  size_t header_limit = 8 * 1024;
  size_t body_limit = 64 * 1024;
  // A connection that sends no complete request for this long is closed (also bounds slow clients).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
  // Bounds writing one response to a client that stopped reading.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // After an error response the server drains the client's unread bytes this long before closing,
  // so the client sees the response rather than a reset.
  std::chrono::milliseconds linger_timeout = std::chrono::seconds(2);
};

struct ServerState {
  ServerState(RequestHandler h, ServerOptions o) : handler(std::move(h)), options(o) {}

  const RequestHandler handler;
  const ServerOptions options;
  std::atomic<int> active_sessions{0};
  std::atomic<bool> stopping{false};

  // Sessions alive, for Stop(); expired entries are pruned on each accept.
  std::mutex mutex;
  std::vector<std::weak_ptr<Session>> sessions;  // guarded by mutex
};

}  // namespace pprofd::http
