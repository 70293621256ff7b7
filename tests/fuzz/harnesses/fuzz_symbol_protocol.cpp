// libFuzzer: the body of a POST to /debug/pprof/symbol ("0x401000+0x401010..."), from any client.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/http/symbol_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto addresses = pprofd::http::ParseSymbolAddresses(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (addresses.ok()) {
    std::vector<std::string> names(addresses->size(), "f");
    (void)pprofd::http::FormatSymbolReply(*addresses, names);
  }
  return 0;
}
