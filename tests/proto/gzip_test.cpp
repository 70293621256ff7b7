#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "proto/profile_builder.h"

namespace pprofd::proto {
namespace {

// Deterministic, poorly compressible bytes, so the compressed size exceeds zlib's chunking.
std::string PseudoRandomBytes(size_t n) {
  std::string out(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

TEST_CASE("Gzip output is RFC 1952 and Gunzip inverts it", "[proto][gzip]") {
  std::string input = GENERATE(std::string(), std::string("hello pprof"), std::string(5 << 20, 'a'),
                               PseudoRandomBytes(3 << 20));
  std::string gz = Gzip(input);
  REQUIRE(gz.size() >= 18);  // 10-byte header + 8-byte trailer
  CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
  CHECK(gz[2] == 8);  // deflate
  std::string out;
  REQUIRE(Gunzip(gz, &out));
  CHECK(out.size() == input.size());
  CHECK(out == input);
}

TEST_CASE("Gunzip rejects corrupt, truncated and trailing input", "[proto][gzip]") {
  std::string input = PseudoRandomBytes(100000);
  std::string gz = Gzip(input);
  std::string out;
  CHECK_FALSE(Gunzip("", &out));
  CHECK_FALSE(Gunzip("not gzip at all", &out));
  CHECK_FALSE(Gunzip(gz.substr(0, gz.size() / 2), &out));
  CHECK_FALSE(Gunzip(gz.substr(0, gz.size() - 1), &out));  // trailer cut
  CHECK_FALSE(Gunzip(gz + "x", &out));
  std::string flipped = gz;
  flipped[gz.size() - 6] ^= 0x55;  // CRC32 in the trailer
  CHECK_FALSE(Gunzip(flipped, &out));
  CHECK(Gunzip(gz, &out));
  CHECK(out == input);
}

}  // namespace
}  // namespace pprofd::proto
