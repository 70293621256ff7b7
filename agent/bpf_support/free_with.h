// A unique_ptr deleter that calls one of libbpf's C free functions (bpf_link__destroy,
// ring_buffer__free, btf__free, ...): every libbpf handle gets an owner without a deleter struct
// written out each time.
#pragma once

#include <memory>

namespace pprofd::bpf_support {

template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* handle) const {
    Free(handle);
  }
};

// std::unique_ptr<T> that frees with `Free`.
template <typename T, auto Free>
using Owned = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace pprofd::bpf_support
