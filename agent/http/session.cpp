#include "agent/http/session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "agent/http/listen_address.h"
#include "base/log.h"

namespace pprofd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using asio::ip::tcp;

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Bytes asked for when waiting for the first byte of a request (or of a TLS handshake).
constexpr size_t kFirstReadBytes = 4096;
// The first byte of a TLS record carrying a handshake message (the ClientHello).
constexpr unsigned char kTlsHandshakeRecord = 0x16;

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category();
}

// The one-line answer to a request the parser rejected.
Response ParseErrorResponse(const beast::error_code& ec) {
  if (ec == beast_http::error::header_limit) {
    return TextResponse(beast_http::status::request_header_fields_too_large,
                        "request header too large");
  }
  if (ec == beast_http::error::body_limit) {
    return TextResponse(beast_http::status::payload_too_large, "request body too large");
  }
  return TextResponse(beast_http::status::bad_request,
                      StrCat("malformed HTTP request: ", ec.message()));
}

// What a plain HTTP client talking to the HTTPS port gets (as Go's server does), written in the
// clear: otherwise curl or pprof would report only a closed connection.
const std::string& HttpToHttpsResponse() {
  static const std::string response = [] {
    const std::string body = "client sent an HTTP request to an HTTPS server: use https://\n";
    return StrCat(
        "HTTP/1.1 400 Bad Request\r\nServer: pprofd\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "X-Go-Pprof: 1\r\nConnection: close\r\nContent-Length: ",
        body.size(), "\r\n\r\n", body);
  }();
  return response;
}

template <typename Stream>
class BasicSession final : public Session,
                           public std::enable_shared_from_this<BasicSession<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  BasicSession(tcp::socket socket, std::shared_ptr<ServerState> state)
      : stream_(MakeStream(std::move(socket), *state)), state_(std::move(state)) {
    state_->active_sessions.fetch_add(1, std::memory_order_relaxed);
  }
  ~BasicSession() override { state_->active_sessions.fetch_sub(1, std::memory_order_relaxed); }
  BasicSession(const BasicSession&) = delete;
  BasicSession& operator=(const BasicSession&) = delete;

  void Start() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->BeginTls();
      } else {
        self->DoRead();
      }
    });
  }

  void Shutdown(bool abort) override {
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), abort] { self->DoShutdown(abort); });
  }

 private:
  enum class Phase { kHandshake, kReading, kHandling, kWriting, kClosed };
  enum class After { kKeepAlive, kClose, kLingerThenClose };

  static Stream MakeStream(tcp::socket socket, ServerState& state) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *state.options.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // A completion handler calling `member` on this session (kept alive by it), `bound` first.
  template <typename Member, typename... Bound>
  auto Bind(Member member, Bound... bound) {
    return beast::bind_front_handler(member, this->shared_from_this(), bound...);
  }

  std::string Peer() {
    beast::error_code ec;
    const tcp::endpoint peer = Lowest().socket().remote_endpoint(ec);
    return ec ? std::string("a client that left") : FormatEndpoint(peer);
  }

  void DoShutdown(bool abort) {
    stopping_ = true;
    // As Go's Shutdown: a connection is idle when no byte of its next request has arrived. A
    // request half read is finished (bounded by the read timeout) and answered.
    const bool idle =
        phase_ == Phase::kHandshake ||
        (phase_ == Phase::kReading && buffer_.size() == 0 && !(parser_ && parser_->got_some()));
    if (idle || abort) Close();
  }

  // TLS: the first bytes are read in the clear to tell a TLS client from a plain HTTP one, then
  // handed to the handshake. Both are bounded by the read timeout.
  void BeginTls() {
    phase_ = Phase::kHandshake;
    Lowest().expires_after(state_->options.read_timeout);
    Lowest().async_read_some(buffer_.prepare(kFirstReadBytes),
                             Bind(&BasicSession::OnTlsFirstBytes));
  }

  void OnTlsFirstBytes(beast::error_code ec, size_t bytes) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      if (ec == beast::error::timeout) state_->read_timeouts.fetch_add(1);
      LogDebug(StrCat("TLS connection from ", Peer(), " sent nothing: ", ec.message()));
      return Close();
    }
    buffer_.commit(bytes);
    const auto first = *static_cast<const unsigned char*>(buffer_.data().data());
    if (first != kTlsHandshakeRecord) {
      if (first < 'A' || first > 'Z') {
        LogDebug(StrCat("connection from ", Peer(), " to the HTTPS port is neither TLS nor HTTP"));
        return Close();
      }
      LogDebug(StrCat("plain HTTP request from ", Peer(), " to the HTTPS port"));
      phase_ = Phase::kWriting;
      Lowest().expires_after(state_->options.write_timeout);
      asio::async_write(Lowest(), asio::buffer(HttpToHttpsResponse()),
                        [self = this->shared_from_this()](beast::error_code write_ec, size_t) {
                          if (write_ec || self->phase_ == Phase::kClosed) return self->Close();
                          self->LingeringClose();
                        });
      return;
    }
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                              Bind(&BasicSession::OnHandshake));
    }
  }

  void OnHandshake(beast::error_code ec, size_t used) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // Scanners, clients without a certificate, clients that do not trust ours: routine, and
      // the client has its own error to show.
      LogDebug(StrCat("TLS handshake with ", Peer(), " failed: ", ec.message()));
      return Close();
    }
    if (used != buffer_.size()) {
      // Encrypted bytes OpenSSL did not take; a TLS client cannot send data before the server's
      // handshake reply, so this is not a client worth serving.
      LogDebug(StrCat("TLS client ", Peer(), " sent data before the handshake ended"));
      return Close();
    }
    buffer_.consume(buffer_.size());
    DoRead();
  }

  // Waits for the first byte of the next request (the idle timeout; the read timeout on a new
  // connection), then reads the request (the read timeout, from that byte to the end).
  void DoRead() {
    if (stopping_) return Close();
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_->options.header_limit));
    parser_->body_limit(state_->options.body_limit);
    if (buffer_.size() > 0) return ReadRequest();  // Pipelined: the request has begun.
    Lowest().expires_after(request_id_ == 0 ? state_->options.read_timeout
                                            : state_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes), Bind(&BasicSession::OnFirstBytes));
  }

  void OnFirstBytes(beast::error_code ec, size_t bytes) {
    if (phase_ == Phase::kClosed) return;
    // A clean close between requests, the idle timeout, Stop(), or a reset: nothing to answer.
    if (ec) {
      if (ec == beast::error::timeout) {
        (request_id_ == 0 ? state_->read_timeouts : state_->idle_timeouts).fetch_add(1);
      }
      return Close();
    }
    buffer_.commit(bytes);
    ReadRequest();
  }

  void ReadRequest() {
    Lowest().expires_after(state_->options.read_timeout);
    beast_http::async_read(stream_, buffer_, *parser_, Bind(&BasicSession::OnRead));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // The read timeout, Stop(), a reset, or a client gone mid-request: nothing to answer.
      if (ec == beast_http::error::end_of_stream || !IsHttpParseError(ec)) {
        if (ec == beast::error::timeout) {
          state_->read_timeouts.fetch_add(1);
          LogDebug(StrCat("request from ", Peer(), " not complete within --read-timeout"));
        }
        return Close();
      }
      request_version_ = 11;
      request_keep_alive_ = false;
      request_is_head_ = false;
      // The client may still be sending the rest of a bad request: linger so that it reads the
      // 400 instead of a reset.
      return Write(ParseErrorResponse(ec), After::kLingerThenClose);
    }
    Dispatch();
  }

  void Dispatch() {
    phase_ = Phase::kHandling;
    // Waiting for the handler (up to a whole profile) is not idle time.
    Lowest().expires_never();
    const Request& request = parser_->get();
    request_version_ = request.version();
    request_keep_alive_ = request.keep_alive();
    request_is_head_ = request.method() == beast_http::verb::head;
    awaiting_response_work_ =
        asio::prefer(stream_.get_executor(), asio::execution::outstanding_work.tracked);
    const uint64_t id = ++request_id_;
    Respond respond = [self = this->shared_from_this(), id](Response response) {
      asio::post(self->stream_.get_executor(),
                 [self, id, response = std::move(response)]() mutable {
                   self->OnRespond(id, std::move(response));
                 });
    };
    state_->handler(request, std::move(respond));
  }

  void OnRespond(uint64_t request_id, Response response) {
    if (request_id != request_id_ || phase_ != Phase::kHandling) return;
    awaiting_response_work_ = {};
    Write(std::move(response), After::kKeepAlive);
  }

  void Write(Response response, After after) {
    phase_ = Phase::kWriting;
    if (after == After::kKeepAlive && (stopping_ || !request_keep_alive_)) after = After::kClose;
    response.version(request_version_);
    response.keep_alive(after == After::kKeepAlive);
    response.set(beast_http::field::server, "pprofd");
    if (request_is_head_) {
      // HEAD: the headers a GET would get, no body.
      response.content_length(response.body().size());
      response.body().clear();
    } else {
      response.prepare_payload();
    }
    response_.emplace(std::move(response));
    Lowest().expires_after(state_->options.write_timeout);
    beast_http::async_write(stream_, *response_, Bind(&BasicSession::OnWrite, after));
  }

  void OnWrite(After after, beast::error_code ec, size_t /*bytes*/) {
    response_.reset();
    if (phase_ == Phase::kClosed) return;
    if (ec) return Close();  // The client went away; nothing to tell it.
    switch (after) {
      case After::kKeepAlive:
        return DoRead();
      case After::kClose:
        return Close();
      case After::kLingerThenClose:
        return LingeringClose();
    }
  }

  // Half-closes and discards what the client still sends, below TLS: nothing more is decoded or
  // answered.
  void LingeringClose() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    Lowest().expires_after(state_->options.linger_timeout);
    Lowest().async_read_some(asio::buffer(drain_), Bind(&BasicSession::OnDrain));
  }

  void OnDrain(beast::error_code ec, size_t /*bytes*/) {
    if (ec || phase_ == Phase::kClosed) return Close();
    Lowest().async_read_some(asio::buffer(drain_), Bind(&BasicSession::OnDrain));
  }

  // Closes the TCP connection without TLS's close_notify: every response carries its length, so
  // clients do not rely on it, and waiting for the peer's would hold the session open.
  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    awaiting_response_work_ = {};
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();  // Also cancels the timeout timer.
  }

  Stream stream_;
  const std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::optional<Response> response_;
  Phase phase_ = Phase::kReading;
  // Identifies the request whose Respond may write; stale or repeated calls are ignored. 0 until
  // the connection's first request.
  uint64_t request_id_ = 0;
  // What the response needs from the request, kept after the handler returns.
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool request_is_head_ = false;
  bool stopping_ = false;
  // While a response is awaited nothing is pending on the socket; this tells the io_context the
  // session still has work, so run() does not return under it (e.g. after Stop()).
  asio::any_io_executor awaiting_response_work_;
  char drain_[512];
};

}  // namespace

std::shared_ptr<Session> MakeSession(tcp::socket socket, std::shared_ptr<ServerState> state) {
  if (state->options.tls) {
    return std::make_shared<BasicSession<TlsStream>>(std::move(socket), std::move(state));
  }
  return std::make_shared<BasicSession<PlainStream>>(std::move(socket), std::move(state));
}

}  // namespace pprofd::http
