#include "agent/bpf_support/ring_size.h"

#include <catch2/catch.hpp>

namespace pprofd::bpf_support {
namespace {

TEST_CASE("NextPowerOfTwo rounds up to a power of two", "[libbpf]") {
  CHECK(NextPowerOfTwo(0) == 1);
  CHECK(NextPowerOfTwo(1) == 1);
  CHECK(NextPowerOfTwo(2) == 2);
  CHECK(NextPowerOfTwo(3) == 4);
  CHECK(NextPowerOfTwo(4096) == 4096);
  CHECK(NextPowerOfTwo(4097) == 8192);
  CHECK(NextPowerOfTwo((size_t{1} << 40) + 1) == size_t{1} << 41);
}

TEST_CASE("RingBufferBytes is a power of two within its bounds", "[libbpf]") {
  CHECK(RingBufferBytes(0, 1 << 20, 256 << 20) == 1 << 20);
  CHECK(RingBufferBytes(3 << 20, 1 << 20, 256 << 20) == 4 << 20);
  CHECK(RingBufferBytes(4 << 20, 1 << 20, 256 << 20) == 4 << 20);
  CHECK(RingBufferBytes(size_t{1} << 40, 1 << 20, 256 << 20) == 256 << 20);
}

TEST_CASE("RingRecordBytes adds the 8-byte header and pads to 8", "[libbpf]") {
  CHECK(RingRecordBytes(0) == 8);
  CHECK(RingRecordBytes(1) == 16);
  CHECK(RingRecordBytes(8) == 16);
  CHECK(RingRecordBytes(9) == 24);
  CHECK(RingRecordBytes(16384 + 596) == 8 + 16984);
}

}  // namespace
}  // namespace pprofd::bpf_support
