// A blocking HTTP client over raw sockets for the server tests: it can send malformed bytes, stop
// mid-request and hang up, which a well-behaved client library would not do.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "base/scoped_fd.h"
#include "base/status.h"

namespace pprofd::http::testing {

using ClientResponse = boost::beast::http::response<boost::beast::http::string_body>;

constexpr auto kClientTimeout = std::chrono::seconds(10);

// Connects to 127.0.0.1:port; an invalid fd on failure.
ScopedFd Connect(unsigned short port);
bool SendAll(int fd, std::string_view bytes);

// Reads one response from `fd`; bytes after it stay in `pending` for the next call.
// `head` skips the body (the answer to HEAD has Content-Length but no body).
StatusOr<ClientResponse> ReadResponse(int fd, std::string& pending, bool head = false,
                                      std::chrono::milliseconds timeout = kClientTimeout);

// True when the server closes the connection (EOF or reset) within `timeout` without sending
// anything more.
bool WaitForClose(int fd, std::chrono::milliseconds timeout = kClientTimeout);

// One request on a fresh connection ("Connection: close").
StatusOr<ClientResponse> Fetch(unsigned short port, std::string_view method,
                               std::string_view target, std::string_view body = {});

// "GET /x HTTP/1.1\r\nHost: test\r\n..." with Content-Length when `body` is not empty.
std::string RequestBytes(std::string_view method, std::string_view target,
                         std::string_view body = {}, bool keep_alive = true);

std::string HeaderOf(const ClientResponse& response, std::string_view name);

}  // namespace pprofd::http::testing
