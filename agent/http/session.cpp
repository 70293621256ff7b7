#include "agent/http/session.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
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
#include <chrono>
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

// Whether a read that failed saw the client close its sending side in order (a FIN; with TLS,
// close_notify or a FIN without it), rather than the connection failing.
bool IsOrderlyClose(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

// The answer to a client that closed its sending side while its response was pending (it may
// still read; a client that is gone entirely never sees it). The request is cancelled as Go's
// net/http cancels the request's context on that EOF.
Response CancelledResponse() {
  return PprofError(
      beast_http::status::internal_server_error,
      "request cancelled: the client closed its side of the connection (EOF) before the response "
      "was ready, which pprofd, as Go's net/http, takes as the client going away; keep the "
      "connection open until the response arrives");
}

// The request line for a log: method and target, cut short.
std::string RequestLine(const Request& request) {
  constexpr size_t kMaxTarget = 200;
  const std::string_view target(request.target().data(), request.target().size());
  std::string line = StrCat(request.method_string(), " ", target.substr(0, kMaxTarget));
  for (char& c : line) {
    if (c < 0x20 || c == 0x7f) c = '?';
  }
  return line;
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
      : stream_(MakeStream(std::move(socket), *state)),
        state_(std::move(state)),
        next_request_timer_(stream_.get_executor()) {
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

  // Shared by the copies of one request's Respond: answers once, and tells the session when
  // the last copy goes unanswered.
  struct PendingAnswer {
    PendingAnswer(std::shared_ptr<BasicSession> s, uint64_t request_id)
        : session(std::move(s)), id(request_id) {}
    ~PendingAnswer() {
      if (sent.load()) return;
      asio::post(session->stream_.get_executor(),
                 [session = session, id = id] { session->OnRespondDropped(id); });
    }
    PendingAnswer(const PendingAnswer&) = delete;
    PendingAnswer& operator=(const PendingAnswer&) = delete;
    const std::shared_ptr<BasicSession> session;
    const uint64_t id;
    std::atomic<bool> sent{false};
  };

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
    if (stopping_ || client_closed_) return Close();
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_->options.header_limit));
    parser_->body_limit(state_->options.body_limit);
    if (buffer_.size() > 0) return ReadRequest();  // Pipelined: the request has begun.
    if (watching_) {
      // The read that watched the last request is still waiting: it waits for the first byte of
      // this one (see OnWatch). Its own timer was off (a profile takes minutes), so the idle
      // timeout runs on a timer of its own.
      waiting_on_watch_ = true;
      next_request_timer_.expires_after(state_->options.idle_timeout);
      next_request_timer_.async_wait(Bind(&BasicSession::OnNextRequestTimeout));
      return;
    }
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
    Request request(parser_->release());
    cancellation_ = Cancellation::Make();
    request.set_cancellation(cancellation_);
    request_version_ = request.version();
    request_keep_alive_ = request.keep_alive();
    request_is_head_ = request.method() == beast_http::verb::head;
    awaiting_response_work_ =
        asio::prefer(stream_.get_executor(), asio::execution::outstanding_work.tracked);
    const uint64_t id = ++request_id_;
    auto pending = std::make_shared<PendingAnswer>(this->shared_from_this(), id);
    Respond respond = [pending](Response response) {
      if (pending->sent.exchange(true)) return;
      const std::shared_ptr<BasicSession>& self = pending->session;
      // Seen by OnWatch before OnRespond runs: a client that hangs up now does not cancel a
      // request whose answer is on its way.
      self->answered_id_.store(pending->id);
      asio::post(self->stream_.get_executor(),
                 [self, id = pending->id, response = std::move(response)]() mutable {
                   self->OnRespond(id, std::move(response));
                 });
    };
    state_->handler(request, std::move(respond));
    if (answered_id_.load() != id) WatchForHangUp(request);
  }

  // While a response is pending, a read waits on the socket, as Go's background read does: EOF
  // or an error means the client went away, and the request is cancelled at once (its profile
  // window closes, its --max-concurrent slot is freed). Bytes mean the next request (pipelining)
  // has begun: they are kept and, as in Go since 1.11, the request is not watched further.
  // Requests answered at once are not watched; nor is one whose successor is already read.
  void WatchForHangUp(const Request& request) {
    if (buffer_.size() > 0) return;
    watching_ = true;
    watched_request_ = RequestLine(request);
    watched_peer_ = Peer();
    handling_since_ = std::chrono::steady_clock::now();
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes), Bind(&BasicSession::OnWatch));
  }

  void OnWatch(beast::error_code ec, size_t bytes) {
    watching_ = false;
    waiting_on_watch_ = false;
    if (phase_ == Phase::kClosed) return;
    if (!ec) {
      buffer_.commit(bytes);
      // The response was written and this read was waiting for the next request: it has begun.
      if (phase_ == Phase::kReading) {
        next_request_timer_.cancel();
        ReadRequest();
      }
      return;
    }
    if (phase_ == Phase::kReading) {
      // Between requests: a close, a reset, the idle timeout's Close(): nothing to answer.
      next_request_timer_.cancel();
      return Close();
    }
    if (phase_ == Phase::kHandling && answered_id_.load() != request_id_) return Abandon(ec);
    // The answer is on its way (or being written): send it, then close.
    client_closed_ = true;
  }

  // Every copy of a request's Respond was destroyed uncalled: no answer will come. The
  // connection closes, as it did when nothing else kept the session alive (the watching read
  // now does).
  void OnRespondDropped(uint64_t request_id) {
    if (request_id != request_id_ || phase_ != Phase::kHandling) return;
    LogDebug(StrCat("no response to ", watched_request_, " from ", watched_peer_,
                    ": the handler dropped it; closing the connection"));
    Close();
  }

  void OnNextRequestTimeout(beast::error_code ec) {
    // The flag, not the error code: a timer that expired just as the read completed has its
    // handler queued already, and cancel() cannot make it fail any more.
    if (ec || !waiting_on_watch_ || phase_ != Phase::kReading) return;
    state_->idle_timeouts.fetch_add(1);
    Close();  // Ends the pending read too.
  }

  // The client left while its response was pending: cancel the request, say so in the log and
  // in /metrics, and answer a client that only closed its sending side.
  void Abandon(const beast::error_code& ec) {
    const CancelReason reason =
        IsOrderlyClose(ec) ? CancelReason::kClientClosed : CancelReason::kClientReset;
    state_->cancelled_requests[static_cast<size_t>(reason)].fetch_add(1);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - handling_since_);
    LogInfo(StrCat("cancelled ", watched_request_, " from ", watched_peer_, " after ",
                   waited.count(), " ms: the client ",
                   reason == CancelReason::kClientClosed
                       ? "closed the connection"
                       : StrCat("connection failed (", ec.message(), ")"),
                   " before the response was ready"));
    awaiting_response_work_ = {};
    Cancellation cancellation = std::move(cancellation_);
    cancellation.Cancel(reason);
    if (reason == CancelReason::kClientReset) return Close();
    client_closed_ = true;
    Write(CancelledResponse(), After::kClose);
  }

  void OnRespond(uint64_t request_id, Response response) {
    if (request_id != request_id_ || phase_ != Phase::kHandling) return;
    awaiting_response_work_ = {};
    cancellation_ = {};
    Write(std::move(response), After::kKeepAlive);
  }

  void Write(Response response, After after) {
    phase_ = Phase::kWriting;
    if (after == After::kKeepAlive && (stopping_ || client_closed_ || !request_keep_alive_)) {
      after = After::kClose;
    }
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
    cancellation_ = {};
    next_request_timer_.cancel();
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
  // The request being handled: its cancellation, fired when the client leaves first.
  Cancellation cancellation_;
  // The id of the latest request whose Respond was called (from any thread).
  std::atomic<uint64_t> answered_id_{0};
  // A read is watching the socket while a response is pending (see WatchForHangUp).
  bool watching_ = false;
  // The request before was answered and the watching read now waits for the next one.
  bool waiting_on_watch_ = false;
  // The client closed its sending side: no further request can come.
  bool client_closed_ = false;
  // For the log line of a cancellation.
  std::string watched_request_;
  std::string watched_peer_;
  std::chrono::steady_clock::time_point handling_since_;
  // The idle timeout while the watching read waits for the next request.
  asio::steady_timer next_request_timer_;
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
