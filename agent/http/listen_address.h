// Parsing --listen values. Pure: no name resolution, so a typo fails at startup with a message,
// never with a DNS timeout.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pprofd::http {

// Accepts "127.0.0.1:6060", "[::1]:6060", "0.0.0.0:6060", "localhost:6060" (127.0.0.1) and
// ":6060" (all IPv4 interfaces, 0.0.0.0). Port 0 asks the kernel for a free port.
StatusOr<boost::asio::ip::tcp::endpoint> ParseListenAddress(std::string_view listen);

// "127.0.0.1:6060" or "[::1]:6060": the form ParseListenAddress accepts.
std::string FormatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace pprofd::http
