// A small CPU-style profile exercising every builder feature, shared by the proto tests.
#pragma once

#include "proto/profile_builder.h"

namespace pprofd::proto::testing {

// Two sample types, three mappings (main executable first), an inline chain
// (InlinedLeaf -> InlinedMiddle -> OuterCaller on one location), thread labels and comments.
void BuildSampleProfile(ProfileBuilder* builder);

inline constexpr char kMainBinary[] = "/usr/bin/pprofd-test-target";
inline constexpr char kMainBuildId[] = "0123456789abcdef0123456789abcdef01234567";

}  // namespace pprofd::proto::testing
