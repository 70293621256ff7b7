#include "agent/sampling/target_constants.h"

#include "base/log.h"

namespace pprofd::sampling {

Status CheckStackBytes(uint32_t stack_bytes, std::string_view kind) {
  if (stack_bytes != 0 && stack_bytes % PPROFD_PAGE_SIZE == 0 &&
      stack_bytes <= PPROFD_MAX_STACK_BYTES) {
    return Status::Ok();
  }
  return Status::Error(StrCat("bad ", kind, kind.empty() ? "" : " ", "stack size ", stack_bytes,
                              ": want a multiple of ", PPROFD_PAGE_SIZE, " up to ",
                              PPROFD_MAX_STACK_BYTES));
}

}  // namespace pprofd::sampling
