// The /debug/pprof/symbol wire format that pprof speaks (Go's net/http/pprof.Symbol): the request
// is addresses joined by '+' ("0x4a1b2c+0x4a1b30"), the answer is "num_symbols: 1" and one
// "0xADDR name" line per address that has a name. Pure functions, tested on bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pprofd::http {

// Addresses are 0x-prefixed hex or plain decimal (Go parses with base 0). Whitespace around a
// token is ignored, empty tokens are skipped, address 0 is dropped (Go never names it).
StatusOr<std::vector<uint64_t>> ParseSymbolAddresses(std::string_view body);

// The reply body; `names[i]` belongs to `addresses[i]`, empty names are omitted as Go does.
std::string FormatSymbolReply(const std::vector<uint64_t>& addresses,
                              const std::vector<std::string>& names);

}  // namespace pprofd::http
