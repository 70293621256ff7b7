#include "agent/http/query.h"

#include <catch2/catch.hpp>

namespace pprofd::http {
namespace {

TEST_CASE("PercentDecode decodes escapes and optionally plus", "[query]") {
  CHECK(PercentDecode("a%20b%2Fc", false).value() == "a b/c");
  CHECK(PercentDecode("a+b", true).value() == "a b");
  CHECK(PercentDecode("a+b", false).value() == "a+b");
  CHECK(PercentDecode("%e2%82%AC", false).value() == "\xe2\x82\xac");
  CHECK(PercentDecode("", true).value().empty());
}

TEST_CASE("PercentDecode rejects broken escapes", "[query]") {
  for (const char* bad : {"%", "%2", "%zz", "abc%g1", "x%2"}) {
    INFO(bad);
    StatusOr<std::string> decoded = PercentDecode(bad, true);
    REQUIRE_FALSE(decoded.ok());
    CHECK_THAT(decoded.status().message(), Catch::Contains("invalid escape"));
  }
  CHECK(PercentDecode("%zz", true).status().message() ==
        "invalid escape '%zz': want % followed by two hex digits");
}

TEST_CASE("ParseQuery splits, decodes and keeps order", "[query]") {
  StatusOr<QueryParams> query = ParseQuery("seconds=5&hz=99&name=a%20b+c&flag&&seconds=7&=x");
  REQUIRE(query.ok());
  REQUIRE(query->Get("seconds") != nullptr);
  CHECK(*query->Get("seconds") == "5");  // first wins, as Go's Values.Get
  CHECK(*query->Get("hz") == "99");
  CHECK(*query->Get("name") == "a b c");
  CHECK(*query->Get("flag") == "");
  CHECK(*query->Get("") == "x");
  CHECK(query->Get("missing") == nullptr);
  CHECK(query->all().size() == 6);
}

TEST_CASE("ParseQuery: semicolon is data, bad escape is an error", "[query]") {
  StatusOr<QueryParams> query = ParseQuery("a=1;b=2");
  REQUIRE(query.ok());
  CHECK(*query->Get("a") == "1;b=2");
  StatusOr<QueryParams> bad = ParseQuery("a=%G0");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "bad query: invalid escape '%G0': want % followed by two hex digits");
  CHECK(ParseQuery("").value().all().empty());
}

TEST_CASE("ParseRequestTarget separates path and query", "[query]") {
  StatusOr<RequestTarget> target = ParseRequestTarget("/debug/pprof/profile?seconds=5&x=%41");
  REQUIRE(target.ok());
  CHECK(target->path == "/debug/pprof/profile");
  CHECK(target->raw_query == "seconds=5&x=%41");
  CHECK(*target->query.Get("x") == "A");

  StatusOr<RequestTarget> encoded = ParseRequestTarget("/debug/pprof/pro%66ile+x#frag");
  REQUIRE(encoded.ok());
  CHECK(encoded->path == "/debug/pprof/profile+x");  // '+' is literal in a path
  CHECK(encoded->raw_query.empty());

  StatusOr<RequestTarget> symbol = ParseRequestTarget("/debug/pprof/symbol?0x10+0x20");
  REQUIRE(symbol.ok());
  CHECK(symbol->raw_query == "0x10+0x20");  // kept raw for /symbol
}

TEST_CASE("ParseRequestTarget rejects non-origin forms and bad escapes", "[query]") {
  CHECK_FALSE(ParseRequestTarget("").ok());
  CHECK_FALSE(ParseRequestTarget("*").ok());
  CHECK(ParseRequestTarget("http://x/y").status().message() ==
        "bad request target 'http://x/y': want a path starting with /");
  CHECK(ParseRequestTarget("/a%zz").status().message() ==
        "bad path: invalid escape '%zz': want % followed by two hex digits");
  CHECK_FALSE(ParseRequestTarget("/a?b=%").ok());
}

TEST_CASE("IntParam validates integers in range", "[query]") {
  QueryParams query;
  query.Add("ok", "42");
  query.Add("plus", "+7");
  query.Add("min", "1");
  query.Add("max", "300");
  CHECK(IntParam(query, "absent", 30, 1, 300).value() == 30);
  CHECK(IntParam(query, "ok", 30, 1, 300).value() == 42);
  CHECK(IntParam(query, "plus", 30, 1, 300).value() == 7);
  CHECK(IntParam(query, "min", 30, 1, 300).value() == 1);
  CHECK(IntParam(query, "max", 30, 1, 300).value() == 300);

  for (const char* bad : {"abc", "0", "-1", "301", "1.5", "", " 5", "5 ", "0x10", "++5",
                          "99999999999999999999999", "1e3"}) {
    INFO(bad);
    QueryParams one;
    one.Add("seconds", bad);
    StatusOr<int> value = IntParam(one, "seconds", 30, 1, 300);
    REQUIRE_FALSE(value.ok());
    CHECK(value.status().message() ==
          std::string("bad seconds=") + bad + ": want an integer from 1 to 300");
  }
}

TEST_CASE("IntParam keeps the error to one bounded line", "[query]") {
  QueryParams query;
  query.Add("hz", "a\nb" + std::string(100, 'x'));
  StatusOr<int> value = IntParam(query, "hz", 99, 1, 1000);
  REQUIRE_FALSE(value.ok());
  CHECK(value.status().message().find('\n') == std::string::npos);
  CHECK(value.status().message().size() < 100);
  CHECK_THAT(value.status().message(), Catch::StartsWith("bad hz=a?bxxx"));
}

}  // namespace
}  // namespace pprofd::http
