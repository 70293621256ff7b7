#include "tests/http/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>

#include "base/log.h"

namespace pprofd::http::testing {

namespace beast_http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// Reads what is available within the deadline: >0 bytes, 0 on EOF, -1 on error or timeout.
ssize_t ReadSome(int fd, char* buffer, size_t size, Clock::time_point deadline) {
  while (true) {
    // Rounded up: poll returning a fraction early would look like an error before the deadline.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return -1;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    const ssize_t n = ::recv(fd, buffer, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

}  // namespace

ScopedFd Connect(unsigned short port) {
  ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return ScopedFd();
  }
  return fd;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

StatusOr<ClientResponse> ReadResponse(int fd, std::string& pending, bool head,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char chunk[4096];
  while (true) {
    // Reparse from the start each time: responses here are small.
    beast_http::response_parser<beast_http::string_body> parser;
    parser.eager(true);
    parser.skip(head);
    parser.body_limit(64 * 1024 * 1024);
    boost::beast::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(pending), ec);
    if (!ec && parser.is_done()) {
      pending.erase(0, used);
      return parser.release();
    }
    if (ec && ec != beast_http::error::need_more) {
      return Status::Error(StrCat("bad response: ", ec.message(), " in '", pending, "'"));
    }
    const ssize_t n = ReadSome(fd, chunk, sizeof(chunk), deadline);
    if (n == 0) {
      return Status::Error(StrCat("connection closed after ", pending.size(), " bytes"));
    }
    if (n < 0) return Status::Error(StrCat("no full response; have '", pending, "'"));
    pending.append(chunk, static_cast<size_t>(n));
  }
}

bool WaitForClose(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char chunk[256];
  const ssize_t n = ReadSome(fd, chunk, sizeof(chunk), deadline);
  return n == 0 || (n < 0 && Clock::now() < deadline);
}

std::string RequestBytes(std::string_view method, std::string_view target, std::string_view body,
                         bool keep_alive) {
  std::string bytes = StrCat(method, " ", target, " HTTP/1.1\r\nHost: test\r\n");
  if (!keep_alive) bytes += "Connection: close\r\n";
  if (!body.empty() || method == "POST") bytes += StrCat("Content-Length: ", body.size(), "\r\n");
  bytes += "\r\n";
  bytes += body;
  return bytes;
}

StatusOr<ClientResponse> Fetch(unsigned short port, std::string_view method,
                               std::string_view target, std::string_view body) {
  ScopedFd fd = Connect(port);
  if (!fd.valid()) return Status::Error(StrCat("connect to port ", port, " failed"));
  if (!SendAll(fd.get(), RequestBytes(method, target, body, /*keep_alive=*/false))) {
    return Status::Error("send failed");
  }
  std::string pending;
  return ReadResponse(fd.get(), pending, /*head=*/method == "HEAD");
}

std::string HeaderOf(const ClientResponse& response, std::string_view name) {
  const auto value = response[boost::beast::string_view(name.data(), name.size())];
  return std::string(value.data(), value.size());
}

}  // namespace pprofd::http::testing
