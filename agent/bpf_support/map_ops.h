// The two map operations every sampler repeats: sizing a map before its program loads, and
// emptying a hash map after its programs are detached (so the next attach starts clean).
#pragma once

#include <bpf/libbpf.h>

#include <cstddef>

#include "base/status.h"

namespace pprofd::bpf_support {

// Sets the entries of `map` (bytes, for a ring buffer) of an opened, not yet loaded, object.
Status SizeMap(bpf_map* map, size_t entries);

// Deletes every key of the hash map `map_fd`, whose keys are `key_size` bytes. Only safe while no
// program updates the map (keys added meanwhile may stay).
void ClearHashMap(int map_fd, size_t key_size);

}  // namespace pprofd::bpf_support
