#include "agent/http/listen_address.h"

#include <catch2/catch.hpp>

namespace pprofd::http {
namespace {

std::string Parsed(std::string_view listen) {
  StatusOr<boost::asio::ip::tcp::endpoint> endpoint = ParseListenAddress(listen);
  return endpoint.ok() ? FormatEndpoint(*endpoint) : "error: " + endpoint.status().message();
}

TEST_CASE("ParseListenAddress accepts the usual forms", "[listen]") {
  CHECK(Parsed("127.0.0.1:6060") == "127.0.0.1:6060");
  CHECK(Parsed("0.0.0.0:6060") == "0.0.0.0:6060");
  CHECK(Parsed(":6060") == "0.0.0.0:6060");
  CHECK(Parsed("[::1]:6060") == "[::1]:6060");
  CHECK(Parsed("[::]:80") == "[::]:80");
  CHECK(Parsed("localhost:7000") == "127.0.0.1:7000");
  CHECK(Parsed("127.0.0.1:0") == "127.0.0.1:0");
  CHECK(Parsed("10.1.2.3:65535") == "10.1.2.3:65535");
}

TEST_CASE("ParseListenAddress explains what is wrong", "[listen]") {
  CHECK(Parsed("foo") == "error: bad --listen 'foo': expected HOST:PORT, e.g. 127.0.0.1:6060");
  CHECK(Parsed("") == "error: bad --listen '': expected HOST:PORT, e.g. 127.0.0.1:6060");
  CHECK(Parsed("6060") == "error: bad --listen '6060': expected HOST:PORT, e.g. 127.0.0.1:6060");
  CHECK(Parsed("127.0.0.1:") ==
        "error: bad --listen '127.0.0.1:': expected HOST:PORT, e.g. 127.0.0.1:6060");
  CHECK(Parsed("127.0.0.1:65536") ==
        "error: bad --listen '127.0.0.1:65536': port '65536' is not a number from 0 to 65535");
  CHECK(Parsed("127.0.0.1:http") ==
        "error: bad --listen '127.0.0.1:http': port 'http' is not a number from 0 to 65535");
  CHECK(Parsed("127.0.0.1:-1") ==
        "error: bad --listen '127.0.0.1:-1': port '-1' is not a number from 0 to 65535");
  CHECK(Parsed("::1:6060") ==
        "error: bad --listen '::1:6060': put an IPv6 host in brackets, e.g. [::1]:6060");
  CHECK(Parsed("[::1:6060") == "error: bad --listen '[::1:6060': unbalanced '[' in host");
  CHECK_THAT(Parsed("example.com:6060"),
             Catch::StartsWith("error: bad --listen 'example.com:6060': host 'example.com' is "
                               "not an IP address"));
  CHECK_THAT(Parsed("[127.0.0.1]:6060"), Catch::Contains("is not an IP address"));
  CHECK_THAT(Parsed("256.1.1.1:6060"), Catch::Contains("is not an IP address"));
  CHECK_THAT(Parsed("[]:6060"), Catch::Contains("empty IPv6 host"));
}

}  // namespace
}  // namespace pprofd::http
