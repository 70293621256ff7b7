#include "agent/http/listen_address.h"

#include <charconv>

#include "base/log.h"

namespace pprofd::http {
namespace {

namespace ip = boost::asio::ip;

Status BadListen(std::string_view listen, std::string_view problem) {
  return Status::Error(StrCat("bad --listen '", listen, "': ", problem));
}

}  // namespace

StatusOr<ip::tcp::endpoint> ParseListenAddress(std::string_view listen) {
  constexpr std::string_view kExpected = "expected HOST:PORT, e.g. 127.0.0.1:6060";
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return BadListen(listen, kExpected);
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);

  bool bracketed = false;
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return BadListen(listen, "unbalanced '[' in host");
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  } else if (host.find(':') != std::string_view::npos) {
    return BadListen(listen, "put an IPv6 host in brackets, e.g. [::1]:6060");
  }

  if (port_text.empty()) return BadListen(listen, kExpected);
  unsigned port = 0;
  const auto [end, err] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return BadListen(listen, StrCat("port '", port_text, "' is not a number from 0 to 65535"));
  }

  ip::address address;
  if (host.empty()) {
    if (bracketed) return BadListen(listen, "empty IPv6 host; use [::]:PORT for all interfaces");
    address = ip::address_v4::any();
  } else if (host == "localhost" && !bracketed) {
    address = ip::address_v4::loopback();
  } else {
    boost::system::error_code ec;
    address = ip::make_address(std::string(host), ec);
    if (ec || (bracketed && !address.is_v6()) || (!bracketed && address.is_v6())) {
      return BadListen(listen, StrCat("host '", host,
                                      "' is not an IP address (names other than localhost are "
                                      "not resolved); e.g. 127.0.0.1:6060 or [::1]:6060"));
    }
  }
  return ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

std::string FormatEndpoint(const ip::tcp::endpoint& endpoint) {
  const ip::address address = endpoint.address();
  if (address.is_v6()) return StrCat("[", address.to_string(), "]:", endpoint.port());
  return StrCat(address.to_string(), ":", endpoint.port());
}

}  // namespace pprofd::http
