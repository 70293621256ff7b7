#include "agent/bpf_support/map_ops.h"

#include <bpf/bpf.h>

#include <cstdint>
#include <vector>

#include "base/log.h"

namespace pprofd::bpf_support {

Status SizeMap(bpf_map* map, size_t entries) {
  if (int err = bpf_map__set_max_entries(map, static_cast<uint32_t>(entries)); err != 0) {
    return ErrnoError(StrCat("size BPF map ", bpf_map__name(map), " to ", entries), -err);
  }
  return Status::Ok();
}

void ClearHashMap(int map_fd, size_t key_size) {
  // Collect first, delete after: deleting the key the walk stands on restarts a hash map's walk.
  std::vector<std::vector<uint8_t>> keys;
  std::vector<uint8_t> next(key_size);
  const void* previous = nullptr;
  while (bpf_map_get_next_key(map_fd, previous, next.data()) == 0) {
    keys.push_back(next);
    previous = keys.back().data();
  }
  for (const auto& key : keys) bpf_map_delete_elem(map_fd, key.data());
}

}  // namespace pprofd::bpf_support
