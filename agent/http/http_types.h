// The types shared by the server and the handlers it calls.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace pprofd::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// Sends the response for the request it was handed with. Call it exactly once (later calls are
// ignored), from any thread, at any time: the server posts it back to the session. The server
// fills in version, keep-alive and Content-Length.
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
