// libFuzzer: a request target from an HTTP client ("/debug/pprof/profile?seconds=5&hz=99"): the
// path, percent-decoding and the query parameters the routes read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/http/query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto target = pprofd::http::ParseRequestTarget(text);
  if (target.ok()) {
    for (const char* name : {"seconds", "hz", "debug", "gc"}) {
      (void)pprofd::http::IntParam(target->query, name, 0, 0, 1000);
    }
  }
  (void)pprofd::http::PercentDecode(text, true);
  (void)pprofd::http::ParseQuery(text);
  return 0;
}
