#include "agent/bpf_support/map_ops.h"

#include <bpf/bpf.h>

#include <catch2/catch.hpp>
#include <cstdint>

#include "agent/bpf_support/skeleton.h"
#include "base/scoped_fd.h"
#include "cpu_sampler.skel.h"

namespace pprofd::bpf_support {
namespace {

int CountKeys(int fd) {
  int count = 0;
  uint64_t key = 0, next = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    ++count;
    key = next;
    previous = &key;
  }
  return count;
}

TEST_CASE("ClearHashMap deletes every key", "[libbpf][bpf]") {
  ScopedFd map(bpf_map_create(BPF_MAP_TYPE_HASH, "test_hash", sizeof(uint64_t), sizeof(uint32_t),
                              4096, nullptr));
  REQUIRE(map.valid());
  for (uint64_t key = 0; key < 1000; ++key) {
    const uint32_t value = static_cast<uint32_t>(key);
    REQUIRE(bpf_map_update_elem(map.get(), &key, &value, BPF_NOEXIST) == 0);
  }
  REQUIRE(CountKeys(map.get()) == 1000);
  ClearHashMap(map.get(), sizeof(uint64_t));
  CHECK(CountKeys(map.get()) == 0);
  ClearHashMap(map.get(), sizeof(uint64_t));  // an empty map stays empty
  CHECK(CountKeys(map.get()) == 0);
}

TEST_CASE("SizeMap sets a map's entries before load and names the map when refused",
          "[libbpf][bpf]") {
  auto skeleton = Skeleton<cpu_sampler>::Open("cpu_sampler", "");
  REQUIRE(skeleton.ok());
  REQUIRE(SizeMap((*skeleton)->maps.samples, 4 << 20).ok());
  CHECK(bpf_map__max_entries((*skeleton)->maps.samples) == 4u << 20);
  REQUIRE(skeleton->Load().ok());
  // Loaded: the kernel's map is created, libbpf refuses to resize it.
  Status late = SizeMap((*skeleton)->maps.samples, 8 << 20);
  REQUIRE_FALSE(late.ok());
  CHECK(late.message().rfind("size BPF map samples to 8388608: ", 0) == 0);
}

}  // namespace
}  // namespace pprofd::bpf_support
