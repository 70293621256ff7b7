#include "agent/http/symbol_protocol.h"

#include <charconv>

#include "base/log.h"

namespace pprofd::http {
namespace {

std::string_view TrimSpace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

}  // namespace

StatusOr<std::vector<uint64_t>> ParseSymbolAddresses(std::string_view body) {
  std::vector<uint64_t> addresses;
  while (!body.empty()) {
    const size_t plus = body.find('+');
    const std::string_view token = TrimSpace(body.substr(0, plus));
    body = plus == std::string_view::npos ? std::string_view() : body.substr(plus + 1);
    if (token.empty()) continue;

    std::string_view digits = token;
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      digits.remove_prefix(2);
      base = 16;
    }
    uint64_t address = 0;
    const auto [end, err] =
        std::from_chars(digits.data(), digits.data() + digits.size(), address, base);
    if (err != std::errc() || end != digits.data() + digits.size()) {
      const std::string_view shown = token.substr(0, 40);
      return Status::Error(StrCat("bad symbol address '", shown,
                                  "': want 0x-prefixed hex addresses joined by '+', e.g. "
                                  "0x4a1b2c+0x4a1b30"));
    }
    if (address != 0) addresses.push_back(address);
  }
  return addresses;
}

std::string FormatSymbolReply(const std::vector<uint64_t>& addresses,
                              const std::vector<std::string>& names) {
  // pprof only checks whether num_symbols is 0 (no symbol information) or more.
  std::string reply = "num_symbols: 1\n";
  char hex[24];
  for (size_t i = 0; i < addresses.size() && i < names.size(); ++i) {
    if (names[i].empty()) continue;
    const auto [end, err] = std::to_chars(hex, hex + sizeof(hex), addresses[i], 16);
    (void)err;  // 24 bytes always hold a 64-bit value in hex.
    reply.append("0x").append(hex, end).append(" ").append(names[i]).append("\n");
  }
  return reply;
}

}  // namespace pprofd::http
