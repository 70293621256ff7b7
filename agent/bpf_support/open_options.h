// The options every pprofd BPF object is opened with: the kernel BTF that CO-RE relocates
// against (--btf; libbpf's default, /sys/kernel/btf/vmlinux, when empty). One place, so the
// programs cannot disagree about which BTF they were built for.
#pragma once

#include <bpf/libbpf.h>

#include <string>

namespace pprofd::bpf_support {

class OpenOptions {
 public:
  // Keeps a pointer into `btf_custom_path`, which must outlive the options.
  explicit OpenOptions(const std::string& btf_custom_path);
  OpenOptions(const OpenOptions&) = delete;
  OpenOptions& operator=(const OpenOptions&) = delete;

  const bpf_object_open_opts* get() const { return &options_; }

 private:
  bpf_object_open_opts options_;
};

}  // namespace pprofd::bpf_support
