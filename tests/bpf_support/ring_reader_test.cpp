#include "agent/bpf_support/ring_reader.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "base/scoped_fd.h"

namespace pprofd::bpf_support {
namespace {

ScopedFd RingBufferMap() {
  ScopedFd fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "test_ring", 0, 0, 1 << 16, nullptr));
  REQUIRE(fd.valid());
  return fd;
}

// A socket filter program that submits one 8-byte record holding `value` to the ring buffer
// `ring_fd` each time it runs: the kernel writes the records, as the samplers' programs do.
ScopedFd RecordWriter(int ring_fd, int32_t value) {
  const bpf_insn program[] = {
      // *(u64 *)(r10 - 8) = value
      {BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, value},
      // r1 = the ring buffer map (a 16-byte load of its fd)
      {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, ring_fd},
      {0, 0, 0, 0, 0},
      // r2 = r10 - 8, r3 = 8, r4 = 0: bpf_ringbuf_output(r1, r2, r3, r4)
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 8},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0},
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output},
      // return 0
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  ScopedFd fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "test_writer", "GPL", program,
                            sizeof(program) / sizeof(program[0]), nullptr));
  REQUIRE(fd.valid());
  return fd;
}

void Run(const ScopedFd& program) {
  std::array<uint8_t, 64>
      packet{};  // a socket filter runs on a packet: at least an Ethernet header
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(), .data_size_in = packet.size());
  REQUIRE(bpf_prog_test_run_opts(program.get(), &opts) == 0);
}

uint64_t ValueOf(std::span<const uint8_t> record) {
  REQUIRE(record.size() == sizeof(uint64_t));
  uint64_t value = 0;
  std::memcpy(&value, record.data(), sizeof(value));
  return value;
}

TEST_CASE("Drain hands every record to the handler, in order, once", "[libbpf][bpf]") {
  ScopedFd ring_map = RingBufferMap();
  auto reader = RingReader::Open(ring_map.get(), "open test ring");
  REQUIRE(reader.ok());
  for (int32_t value : {11, 22, 33}) Run(RecordWriter(ring_map.get(), value));

  std::vector<uint64_t> values;
  CHECK(reader->Drain(
            [&](std::span<const uint8_t> record) { values.push_back(ValueOf(record)); }) == 3);
  CHECK(values == std::vector<uint64_t>{11, 22, 33});
  CHECK(reader->Drain([&](std::span<const uint8_t>) { FAIL("drained twice"); }) == 0);
}

TEST_CASE("A moved reader delivers to the handler of its own Drain", "[libbpf][bpf]") {
  ScopedFd ring_map = RingBufferMap();
  auto opened = RingReader::Open(ring_map.get(), "open test ring");
  REQUIRE(opened.ok());
  RingReader reader = std::move(*opened);  // libbpf keeps the context pointer it was given
  ScopedFd writer = RecordWriter(ring_map.get(), 7);
  Run(writer);
  int first = 0;
  CHECK(reader.Drain([&](std::span<const uint8_t> record) { first += ValueOf(record); }) == 1);
  CHECK(first == 7);
  Run(writer);
  Run(writer);
  int second = 0;
  CHECK(reader.Drain([&](std::span<const uint8_t> record) { second += ValueOf(record); }) == 2);
  CHECK(second == 14);
}

TEST_CASE("Open names the map that is not a ring buffer", "[libbpf][bpf]") {
  ScopedFd array(bpf_map_create(BPF_MAP_TYPE_ARRAY, "test_array", 4, 8, 1, nullptr));
  REQUIRE(array.valid());
  auto reader = RingReader::Open(array.get(), "open ring buffer of test");
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.status().message().rfind("open ring buffer of test: ", 0) == 0);
  RingReader empty;  // never opened: drains nothing
  CHECK(empty.Drain([](std::span<const uint8_t>) { FAIL("no ring"); }) == 0);
}

}  // namespace
}  // namespace pprofd::bpf_support
