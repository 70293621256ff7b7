// Checks that a decoded pprof profile is one `go tool pprof` accepts and that pprofd's builder
// produced it: string indices in range, ids unique and nonzero, references resolvable, one value
// per sample type, no duplicate functions or locations. For tests; returns one line per violation.
#pragma once

#include <string>
#include <vector>

#include "proto/profile.pb.h"

namespace pprofd::testing {

std::vector<std::string> CheckProfileInvariants(const perftools::profiles::Profile& profile);

}  // namespace pprofd::testing
