#include "agent/profiles/frames.h"

namespace pprofd::profiles {

std::string MarkerName(Marker marker) {
  switch (marker) {
    case Marker::kUnwindTruncated:
      return "[unwind: truncated]";
    case Marker::kUnwindNoCfi:
      return "[unwind: no CFI]";
    case Marker::kUnwindUnknownMapping:
      return "[unwind: unknown mapping]";
    case Marker::kUnwindBadFrame:
      return "[unwind: bad frame]";
    case Marker::kUnwindMaxDepth:
      return "[unwind: too deep]";
    case Marker::kNoUserStack:
      return "[no user stack]";
  }
  return "[unknown marker]";
}

}  // namespace pprofd::profiles
