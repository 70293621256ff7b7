#include "agent/http/session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "base/log.h"

namespace pprofd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

namespace {

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

}  // namespace

Session::Session(asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state)
    : stream_(std::move(socket)), state_(std::move(state)) {
  state_->active_sessions.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() { state_->active_sessions.fetch_sub(1, std::memory_order_relaxed); }

void Session::Start() {
  asio::dispatch(stream_.get_executor(),
                 beast::bind_front_handler(&Session::DoRead, shared_from_this()));
}

void Session::Shutdown(bool abort) {
  asio::post(stream_.get_executor(),
             [self = shared_from_this(), abort] { self->DoShutdown(abort); });
}

void Session::DoShutdown(bool abort) {
  stopping_ = true;
  // As Go's Shutdown: a connection is idle when no byte of its next request has arrived. A request
  // half read is finished (bounded by the idle timeout) and answered.
  const bool idle =
      phase_ == Phase::kReading && buffer_.size() == 0 && !(parser_ && parser_->got_some());
  if (idle || abort) Close();
}

void Session::DoRead() {
  if (stopping_) return Close();
  phase_ = Phase::kReading;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_->options.header_limit));
  parser_->body_limit(state_->options.body_limit);
  stream_.expires_after(state_->options.idle_timeout);
  beast_http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&Session::OnRead, shared_from_this()));
}

void Session::OnRead(beast::error_code ec, size_t /*bytes*/) {
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    // A clean close between requests, an idle timeout, Stop(), or a reset: nothing to answer.
    if (ec == beast_http::error::end_of_stream || !IsHttpParseError(ec)) return Close();
    request_version_ = 11;
    request_keep_alive_ = false;
    request_is_head_ = false;
    // The client may still be sending the rest of a bad request: linger so that it reads the
    // 400 instead of a reset.
    return Write(ParseErrorResponse(ec), After::kLingerThenClose);
  }
  Dispatch();
}

void Session::Dispatch() {
  phase_ = Phase::kHandling;
  // Waiting for the handler (up to a whole profile) is not idle time.
  stream_.expires_never();
  const Request& request = parser_->get();
  request_version_ = request.version();
  request_keep_alive_ = request.keep_alive();
  request_is_head_ = request.method() == beast_http::verb::head;
  awaiting_response_work_ =
      asio::prefer(stream_.get_executor(), asio::execution::outstanding_work.tracked);
  const uint64_t id = ++request_id_;
  Respond respond = [self = shared_from_this(), id](Response response) {
    asio::post(self->stream_.get_executor(), [self, id, response = std::move(response)]() mutable {
      self->OnRespond(id, std::move(response));
    });
  };
  state_->handler(request, std::move(respond));
}

void Session::OnRespond(uint64_t request_id, Response response) {
  if (request_id != request_id_ || phase_ != Phase::kHandling) return;
  awaiting_response_work_ = {};
  Write(std::move(response), After::kKeepAlive);
}

void Session::Write(Response response, After after) {
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
  stream_.expires_after(state_->options.write_timeout);
  beast_http::async_write(stream_, *response_,
                          beast::bind_front_handler(&Session::OnWrite, shared_from_this(), after));
}

void Session::OnWrite(After after, beast::error_code ec, size_t /*bytes*/) {
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

void Session::LingeringClose() {
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  stream_.expires_after(state_->options.linger_timeout);
  stream_.async_read_some(asio::buffer(drain_),
                          beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
}

void Session::OnDrain(beast::error_code ec, size_t /*bytes*/) {
  if (ec || phase_ == Phase::kClosed) return Close();
  stream_.async_read_some(asio::buffer(drain_),
                          beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
}

void Session::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  awaiting_response_work_ = {};
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.close();  // Also cancels the timeout timer.
}

}  // namespace pprofd::http
