#include "agent/http/http_types.h"

#include <boost/beast/http/field.hpp>

namespace pprofd::http {

namespace beast_http = boost::beast::http;

Response TextResponse(beast_http::status status, std::string_view body) {
  Response response(status, 11);
  response.set(beast_http::field::content_type, "text/plain; charset=utf-8");
  response.set("X-Content-Type-Options", "nosniff");
  response.body().assign(body);
  if (response.body().empty() || response.body().back() != '\n') response.body().push_back('\n');
  return response;
}

Response PprofError(beast_http::status status, std::string_view message) {
  Response response = TextResponse(status, message);
  response.set("X-Go-Pprof", "1");
  return response;
}

}  // namespace pprofd::http
