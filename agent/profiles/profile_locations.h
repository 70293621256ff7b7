// Adds normalized frames to a pprof profile being built: each module's mapping once (the main
// executable first: pprof takes mapping[0] for the program) and each frame's location once, with
// the symbolizer's lines. Shared by the profile writers.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/frames.h"
#include "proto/profile_builder.h"

namespace pprofd::profiles {

class ProfileLocations {
 public:
  // Adds the mapping of `main_module` at once when given. Both pointers must outlive this.
  ProfileLocations(proto::ProfileBuilder* builder, FrameSymbolizer* symbolizer,
                   std::optional<uint32_t> main_module);

  uint64_t LocationId(const Frame& frame);
  // Mapping id of a module; 0 (none) for markers and unknown addresses.
  uint64_t MappingId(uint32_t module);

 private:
  struct FrameHash {
    size_t operator()(const Frame& frame) const {
      return std::hash<uint64_t>()(frame.address) ^ (size_t{frame.module} << 48);
    }
  };

  proto::ProfileBuilder* builder_;
  FrameSymbolizer* symbolizer_;
  std::unordered_map<uint32_t, uint64_t> mapping_ids_;
  std::unordered_map<Frame, uint64_t, FrameHash> location_ids_;
};

}  // namespace pprofd::profiles
