#include "symbolizer/kallsyms.h"

#include <algorithm>
#include <charconv>

#include "base/file_util.h"

namespace pprofd::symbolizer {
namespace {

bool IsTextType(char type) { return type == 't' || type == 'T' || type == 'w' || type == 'W'; }

// Symbols that mark where kernel text ends: nothing from them on is a function.
bool IsEndMarker(std::string_view name) { return name == "_etext" || name == "_einittext"; }

std::string_view NextField(std::string_view& line) {
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  size_t end = line.find_first_of(" \t", start);
  std::string_view field = line.substr(start, end == std::string_view::npos ? end : end - start);
  line = end == std::string_view::npos ? std::string_view() : line.substr(end);
  return field;
}

}  // namespace

StatusOr<KernelSymbols> KernelSymbols::Parse(std::string_view text) {
  KernelSymbols result;
  size_t lines = 0;
  bool any_nonzero = false;
  size_t line_number = 0;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    if (line.empty()) continue;
    // "ffffffffc0a01000 t ext4_foo\t[ext4]"
    std::string_view address_text = NextField(line);
    std::string_view type = NextField(line);
    std::string_view name = NextField(line);
    std::string_view module = NextField(line);
    uint64_t address = 0;
    auto [end, ec] = std::from_chars(address_text.data(), address_text.data() + address_text.size(),
                                     address, 16);
    if (ec != std::errc() || end != address_text.data() + address_text.size() || type.size() != 1 ||
        name.empty()) {
      return Status::Error("kallsyms line " + std::to_string(line_number) + ": malformed");
    }
    ++lines;
    if (address != 0) any_nonzero = true;
    if (!IsTextType(type[0])) continue;
    KernelSymbol symbol;
    symbol.address = address;
    symbol.name = std::string(name);
    if (module.size() >= 2 && module.front() == '[' && module.back() == ']') {
      symbol.module = std::string(module.substr(1, module.size() - 2));
    }
    result.symbols_.push_back(std::move(symbol));
  }
  if (lines == 0) return Status::Error("kallsyms: no symbols");
  if (!any_nonzero) {
    return Status::Error(
        "kallsyms: every address is 0 (hidden from processes without CAP_SYSLOG when "
        "kernel.kptr_restrict=1 or kernel.perf_event_paranoid>=2); grant pprofd CAP_SYSLOG");
  }
  std::stable_sort(
      result.symbols_.begin(), result.symbols_.end(),
      [](const KernelSymbol& a, const KernelSymbol& b) { return a.address < b.address; });
  return result;
}

StatusOr<KernelSymbols> KernelSymbols::Load() {
  auto text = ReadFileToString("/proc/kallsyms");
  if (!text.ok()) return text.status();
  return Parse(*text);
}

const KernelSymbol* KernelSymbols::Find(uint64_t address) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                             [](uint64_t addr, const KernelSymbol& s) { return addr < s.address; });
  if (it == symbols_.begin()) return nullptr;  // before the first text symbol
  // The last symbol has no known end; only an exact hit belongs to it.
  if (it == symbols_.end() && symbols_.back().address != address) return nullptr;
  const KernelSymbol* symbol = &*std::prev(it);
  if (IsEndMarker(symbol->name)) return nullptr;
  return symbol;
}

}  // namespace pprofd::symbolizer
