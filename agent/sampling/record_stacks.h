// The two stacks at the end of a sampler's ring buffer record (bpf/pprofd_abi.h): the kernel stack
// (an array of addresses, its length in bytes or a negative errno) and the copy of the top of the
// user stack (as many bytes as both the record and its length say). Bounds come from the record's
// size, never from the program's word alone.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pprofd_abi.h"

namespace pprofd::sampling {

template <typename Record>
std::span<const uint64_t> KernelStackOf(const Record& record) {
  if (record.kernel_stack_len <= 0) return {};
  const size_t frames = std::min<size_t>(
      static_cast<size_t>(record.kernel_stack_len) / sizeof(uint64_t), PPROFD_MAX_KERNEL_FRAMES);
  return {reinterpret_cast<const uint64_t*>(record.kernel_stack), frames};
}

// `record_size`: the bytes the ring buffer delivered, at least sizeof(Record).
template <typename Record>
std::span<const uint8_t> UserStackOf(const Record& record, size_t record_size) {
  return {record.user_stack, std::min<size_t>(record.user_stack_len, record_size - sizeof(Record))};
}

}  // namespace pprofd::sampling
