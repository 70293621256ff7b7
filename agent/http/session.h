// One client connection: reads requests (keep-alive, one at a time), hands each to the handler and
// writes its response when the handler's Respond is called, from whatever thread, whenever.
// Everything runs on the session's strand; callbacks hold shared_from_this. While a response is
// pending the session watches the socket, as Go's net/http does: a client that closes or resets
// the connection fires the request's Cancellation (see cancellation.h) at once; bytes of a
// pipelined request do not.
// The same code serves plain TCP and TLS (session.cpp instantiates it for both streams).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "agent/http/server_state.h"

namespace pprofd::http {

class Session {
 public:
  virtual ~Session() = default;

  virtual void Start() = 0;
  // Thread-safe. Idle connections close now; a request in flight gets its response, then the
  // connection closes. With `abort`, a request in flight is dropped too (its Respond then no-ops).
  virtual void Shutdown(bool abort) = 0;
};

// A session for `socket` (accepted on a strand executor): HTTPS when state->options.tls is set,
// plain HTTP otherwise. Call Start() on it.
std::shared_ptr<Session> MakeSession(boost::asio::ip::tcp::socket socket,
                                     std::shared_ptr<ServerState> state);

}  // namespace pprofd::http
