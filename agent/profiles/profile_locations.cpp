#include "agent/profiles/profile_locations.h"

namespace pprofd::profiles {

ProfileLocations::ProfileLocations(proto::ProfileBuilder* builder, FrameSymbolizer* symbolizer,
                                   std::optional<uint32_t> main_module)
    : builder_(builder), symbolizer_(symbolizer) {
  if (main_module) MappingId(*main_module);
}

uint64_t ProfileLocations::MappingId(uint32_t module) {
  if (module == kMarkerModule || module == kUnknownModule) return 0;
  auto it = mapping_ids_.find(module);
  if (it != mapping_ids_.end()) return it->second;
  uint64_t id = builder_->AddMapping(symbolizer_->MappingFor(module));
  mapping_ids_.emplace(module, id);
  return id;
}

uint64_t ProfileLocations::LocationId(const Frame& frame) {
  auto it = location_ids_.find(frame);
  if (it != location_ids_.end()) return it->second;
  // A marker's "address" is its Marker value, not a place in memory.
  uint64_t address = frame.module == kMarkerModule ? 0 : frame.address;
  uint64_t id = builder_->AddLocation(MappingId(frame.module), address, symbolizer_->Lines(frame));
  location_ids_.emplace(frame, id);
  return id;
}

}  // namespace pprofd::profiles
