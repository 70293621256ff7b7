#include "agent/bpf_support/ring_reader.h"

#include <cerrno>

namespace pprofd::bpf_support {

StatusOr<RingReader> RingReader::Open(int map_fd, std::string_view what) {
  RingReader reader;
  reader.current_ = std::make_unique<Callback>();
  reader.ring_.reset(
      ring_buffer__new(map_fd, &RingReader::OnRecord, reader.current_.get(), nullptr));
  if (!reader.ring_) return ErrnoError(what, errno);
  return reader;
}

int RingReader::OnRecord(void* context, void* data, size_t size) {
  const auto* callback = static_cast<const Callback*>(context);
  if (callback->call != nullptr) {
    callback->call(callback->handler, {static_cast<const uint8_t*>(data), size});
  }
  return 0;  // non-zero would stop the drain
}

int RingReader::Consume(Callback callback) {
  if (!ring_) return 0;
  *current_ = callback;
  const int consumed = ring_buffer__consume(ring_.get());
  *current_ = Callback{};
  return consumed < 0 ? 0 : consumed;
}

}  // namespace pprofd::bpf_support
