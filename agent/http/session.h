// One client connection: reads requests (keep-alive, one at a time), hands each to the handler and
// writes its response when the handler's Respond is called, from whatever thread, whenever.
// Everything runs on the session's strand; callbacks hold shared_from_this, so a client that
// disconnects while its profile is being built leaves a session that quietly fails to write.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <memory>
#include <optional>

#include "agent/http/http_types.h"
#include "agent/http/server_state.h"

namespace pprofd::http {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `socket` must have been accepted on a strand executor.
  Session(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // Thread-safe. Idle connections close now; a request in flight gets its response, then the
  // connection closes. With `abort`, a request in flight is dropped too (its Respond then no-ops).
  void Shutdown(bool abort);

 private:
  enum class Phase { kReading, kHandling, kWriting, kClosed };

  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void Dispatch();
  void OnRespond(uint64_t request_id, Response response);
  enum class After { kKeepAlive, kClose, kLingerThenClose };
  void Write(Response response, After after);
  void OnWrite(After after, boost::beast::error_code ec, size_t bytes);
  void LingeringClose();
  void OnDrain(boost::beast::error_code ec, size_t bytes);
  void DoShutdown(bool abort);
  void Close();

  boost::beast::tcp_stream stream_;
  const std::shared_ptr<ServerState> state_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<Response> response_;
  Phase phase_ = Phase::kReading;
  // Identifies the request whose Respond may write; stale or repeated calls are ignored.
  uint64_t request_id_ = 0;
  // What the response needs from the request, kept after the handler returns.
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool request_is_head_ = false;
  bool stopping_ = false;
  // While a response is awaited nothing is pending on the socket; this tells the io_context the
  // session still has work, so run() does not return under it (e.g. after Stop()).
  boost::asio::any_io_executor awaiting_response_work_;
  char drain_[512];
};

}  // namespace pprofd::http
