// Owner of a bpftool-generated skeleton (T is the generated struct, e.g. cpu_sampler): opened with
// pprofd's open options, loaded with the one load-error wording, destroyed exactly once. The
// skeleton owns the BPF object, its maps and programs: links and ring buffer readers on them must
// be destroyed first (declare them after the Skeleton).
#pragma once

#include <cerrno>
#include <memory>
#include <string>
#include <string_view>

#include "agent/bpf_support/load_error.h"
#include "agent/bpf_support/open_options.h"
#include "base/log.h"
#include "base/status.h"

namespace pprofd::bpf_support {

template <typename T>
class Skeleton {
 public:
  Skeleton() = default;

  // Opens program `name` (its constants and map sizes can be set until Load). `name` is what
  // errors call it.
  static StatusOr<Skeleton> Open(std::string_view name, const std::string& btf_custom_path) {
    OpenOptions options(btf_custom_path);
    Skeleton skeleton;
    skeleton.skeleton_.reset(T::open(options.get()));
    if (!skeleton.skeleton_) return ErrnoError(StrCat("open BPF program ", name), errno);
    skeleton.name_ = name;
    return skeleton;
  }

  // Takes a skeleton opened some other way (e.g. the generated struct over another object's ELF
  // bytes); null means the open failed, with errno set.
  static StatusOr<Skeleton> Adopt(std::string_view name, T* opened) {
    if (opened == nullptr) return ErrnoError(StrCat("open BPF program ", name), errno);
    Skeleton skeleton;
    skeleton.skeleton_.reset(opened);
    skeleton.name_ = name;
    return skeleton;
  }

  // Loads the programs into the kernel; `capabilities` are what the error names as missing.
  Status Load(std::string_view capabilities = kTracingCapabilities) {
    if (int err = T::load(skeleton_.get()); err != 0) return LoadError(name_, -err, capabilities);
    return Status::Ok();
  }

  T* get() const { return skeleton_.get(); }
  T* operator->() const { return skeleton_.get(); }
  explicit operator bool() const { return skeleton_ != nullptr; }

 private:
  struct Destroy {
    void operator()(T* skeleton) const { T::destroy(skeleton); }
  };
  std::unique_ptr<T, Destroy> skeleton_;
  std::string name_;
};

}  // namespace pprofd::bpf_support
