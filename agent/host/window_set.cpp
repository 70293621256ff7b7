#include "agent/host/window_set.h"

#include "base/log.h"

namespace pprofd::host {

std::string WindowEnd::CoverageComment(int seconds_asked) const {
  if (early_reason.empty()) return {};
  return StrCat(early_reason, ": this profile covers ", duration_ns / 1000000, " ms of the ",
                seconds_asked, " s asked for");
}

}  // namespace pprofd::host
