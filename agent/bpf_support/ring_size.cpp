#include "agent/bpf_support/ring_size.h"

#include <algorithm>

namespace pprofd::bpf_support {

size_t NextPowerOfTwo(size_t n) {
  size_t power = 1;
  while (power < n) power <<= 1;
  return power;
}

size_t RingBufferBytes(size_t wanted, size_t min_bytes, size_t max_bytes) {
  return std::clamp(NextPowerOfTwo(wanted), min_bytes, max_bytes);
}

size_t RingRecordBytes(size_t data_bytes) {
  constexpr size_t kHeaderBytes = 8;  // BPF_RINGBUF_HDR_SZ
  return kHeaderBytes + ((data_bytes + 7) & ~size_t{7});
}

}  // namespace pprofd::bpf_support
