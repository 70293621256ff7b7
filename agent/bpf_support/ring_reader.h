// Reader of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF), drained by the caller on its own thread:
// the programs submit without wakeups, so nothing blocks and no thread waits on the ring. Holds
// the one trampoline from libbpf's C callback to the caller's handler of the Drain in progress.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>

#include "agent/bpf_support/free_with.h"
#include "base/status.h"

namespace pprofd::bpf_support {

class RingReader {
 public:
  RingReader() = default;
  // Reads the ring buffer map `map_fd` of a loaded program; `what` names it in the error.
  static StatusOr<RingReader> Open(int map_fd, std::string_view what);

  // Calls `on_record(std::span<const uint8_t>)` for every record waiting, in the order the
  // programs reserved them, on the calling thread; a record is valid during its call only.
  // Returns the number of records consumed.
  template <typename OnRecord>
  int Drain(OnRecord&& on_record) {
    using Handler = std::remove_reference_t<OnRecord>;
    return Consume(Callback{[](void* handler, std::span<const uint8_t> record) {
                              (*static_cast<Handler*>(handler))(record);
                            },
                            const_cast<void*>(static_cast<const void*>(&on_record))});
  }

 private:
  // The handler of the Drain in progress, type-erased; empty between drains.
  struct Callback {
    void (*call)(void* handler, std::span<const uint8_t> record) = nullptr;
    void* handler = nullptr;
  };
  // The trampoline libbpf calls with the Callback as its context.
  static int OnRecord(void* context, void* data, size_t size);
  int Consume(Callback callback);

  // A stable address for libbpf's context pointer, so the reader itself can move.
  std::unique_ptr<Callback> current_;
  Owned<ring_buffer, ring_buffer__free> ring_;  // freed first: it points at current_
};

}  // namespace pprofd::bpf_support
