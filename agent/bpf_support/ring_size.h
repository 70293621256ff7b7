// Sizing of BPF ring buffers: the kernel wants a power of two (and a multiple of the page size),
// and each record costs an 8-byte header and padding to 8 bytes on top of its data.
#pragma once

#include <cstddef>

namespace pprofd::bpf_support {

// The smallest power of two >= n (1 for n = 0).
size_t NextPowerOfTwo(size_t n);

// `wanted` bytes rounded up to a power of two, then kept within [min_bytes, max_bytes] (both
// powers of two, min_bytes at least a page).
size_t RingBufferBytes(size_t wanted, size_t min_bytes, size_t max_bytes);

// Bytes one record of `data_bytes` takes in a ring buffer (BPF_RINGBUF_HDR_SZ + data rounded up
// to 8).
size_t RingRecordBytes(size_t data_bytes);

}  // namespace pprofd::bpf_support
