// The types shared by the server and the handlers it calls.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "agent/http/cancellation.h"

namespace pprofd::http {

// A request as the handlers see it: Beast's message, and what Go keeps in r.Context(): the
// signal that its client went away (the session sets it; see cancellation.h). Middleware hands
// the same object on, so whatever works on the request can register on it.
class Request : public boost::beast::http::request<boost::beast::http::string_body> {
 public:
  using Message = boost::beast::http::request<boost::beast::http::string_body>;
  using Message::Message;
  Request() = default;
  Request(Message message) : Message(std::move(message)) {}  // NOLINT: implicit by design

  // Fires when the client goes away before the response is sent; never, unless the server set
  // it.
  const Cancellation& cancellation() const { return cancellation_; }
  void set_cancellation(Cancellation cancellation) { cancellation_ = std::move(cancellation); }

 private:
  Cancellation cancellation_;
};
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// Sends the response for the request it was handed with. Call it exactly once (later calls are
// ignored), from any thread, at any time: the server posts it back to the session. The server
// fills in version, keep-alive and Content-Length. Destroying every copy uncalled closes the
// connection without an answer (what a cancelled request does: its client is gone).
using Respond = std::function<void(Response)>;

// Called on the session's strand (an HTTP thread): it must not block. Slow work is started
// elsewhere and answered through `respond`.
using RequestHandler = std::function<void(const Request& request, Respond respond)>;

// A text/plain response whose body is `body` (a newline is appended when missing).
Response TextResponse(boost::beast::http::status status, std::string_view body);

// The error form Go's net/http/pprof uses: text/plain with X-Go-Pprof: 1, which makes pprof
// print the body to the user as is.
Response PprofError(boost::beast::http::status status, std::string_view message);

}  // namespace pprofd::http
