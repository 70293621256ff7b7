#include "agent/bpf_support/open_options.h"

#include <cstring>

namespace pprofd::bpf_support {

OpenOptions::OpenOptions(const std::string& btf_custom_path) {
  // What LIBBPF_OPTS does: zeroed (padding included, libbpf checks unknown tail bytes), then
  // the size libbpf reads the struct's version from.
  std::memset(&options_, 0, sizeof(options_));
  options_.sz = sizeof(options_);
  options_.btf_custom_path = btf_custom_path.empty() ? nullptr : btf_custom_path.c_str();
}

}  // namespace pprofd::bpf_support
