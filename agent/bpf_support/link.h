// Owner of an attached BPF program (a bpf_link): destroying it detaches the program, so a sampler
// holds links only while a profile needs them and costs nothing otherwise.
#pragma once

#include <bpf/libbpf.h>

#include <string_view>

#include "agent/bpf_support/free_with.h"
#include "base/status.h"

namespace pprofd::bpf_support {

using Link = Owned<bpf_link, bpf_link__destroy>;

// Takes the result of a bpf_program__attach* call: the link, or "`what`: strerror(errno)" when
// it is null. Call it right after the attach, before anything can change errno.
StatusOr<Link> TakeLink(bpf_link* link, std::string_view what);

}  // namespace pprofd::bpf_support
