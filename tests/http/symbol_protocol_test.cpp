#include "agent/http/symbol_protocol.h"

#include <catch2/catch.hpp>

namespace pprofd::http {
namespace {

TEST_CASE("ParseSymbolAddresses reads pprof's request", "[symbol]") {
  CHECK(ParseSymbolAddresses("0x4a1b2c+0x4a1b30").value() ==
        std::vector<uint64_t>{0x4a1b2c, 0x4a1b30});
  CHECK(ParseSymbolAddresses("0X10+16+0xffffffffffffffff").value() ==
        std::vector<uint64_t>{16, 16, 0xffffffffffffffffull});
  // Trailing '+', newline, empty pieces and address 0 are tolerated, as in Go.
  CHECK(ParseSymbolAddresses("0x10++0x0+ 0x20 +\n").value() == std::vector<uint64_t>{0x10, 0x20});
  CHECK(ParseSymbolAddresses("").value().empty());
}

TEST_CASE("ParseSymbolAddresses rejects junk with a clear message", "[symbol]") {
  for (const char* bad :
       {"0xzz", "main", "0x", "0x10+abc", "-1", "0x1 0x2", "0x10000000000000000"}) {
    INFO(bad);
    StatusOr<std::vector<uint64_t>> parsed = ParseSymbolAddresses(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.status().message(), Catch::StartsWith("bad symbol address '"));
  }
  CHECK(ParseSymbolAddresses("0x10+0xzz").status().message() ==
        "bad symbol address '0xzz': want 0x-prefixed hex addresses joined by '+', e.g. "
        "0x4a1b2c+0x4a1b30");
}

TEST_CASE("FormatSymbolReply writes Go's answer", "[symbol]") {
  CHECK(FormatSymbolReply({}, {}) == "num_symbols: 1\n");
  CHECK(FormatSymbolReply({0x4a1b2c, 0x10, 0xdeadbeef}, {"main.main", "", "foo(int)"}) ==
        "num_symbols: 1\n0x4a1b2c main.main\n0xdeadbeef foo(int)\n");
}

}  // namespace
}  // namespace pprofd::http
