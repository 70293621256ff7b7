#include "tests/e2e/harness/addr2line_reference.h"

#include <map>
#include <sstream>
#include <utility>

#include "tests/e2e/harness/subprocess.h"

namespace pprofd::e2e {

// "  LOAD 0x000650 0x0000000000001650 0x0000000000001650 0x000160 0x000160 R E 0x1000"
std::vector<ElfLoadSegment> ReadLoadSegments(const std::string& file) {
  std::vector<ElfLoadSegment> segments;
  CommandResult result = RunCommand({"readelf", "-lW", file});
  if (result.exit_code != 0) return segments;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> tokens;
    for (std::string token; fields >> token;) tokens.push_back(token);
    if (tokens.size() < 8 || tokens[0] != "LOAD") continue;
    ElfLoadSegment segment;
    segment.offset = std::stoull(tokens[1], nullptr, 16);
    segment.vaddr = std::stoull(tokens[2], nullptr, 16);
    segment.file_size = std::stoull(tokens[4], nullptr, 16);
    // The flags sit between the memory size and the alignment: "R E", "RWE", "R".
    for (size_t i = 6; i + 1 < tokens.size(); ++i) {
      if (tokens[i].find('E') != std::string::npos) segment.executable = true;
    }
    segments.push_back(segment);
  }
  return segments;
}

std::optional<uint64_t> ElfVaddrOf(const RawMapping& mapping, uint64_t address) {
  if (address < mapping.start || address >= mapping.limit) return std::nullopt;
  const uint64_t file_offset = address - mapping.start + mapping.offset;
  for (const ElfLoadSegment& segment : ReadLoadSegments(mapping.file)) {
    if (segment.executable && file_offset >= segment.offset &&
        file_offset < segment.offset + segment.file_size) {
      return file_offset - segment.offset + segment.vaddr;
    }
  }
  return std::nullopt;
}

std::vector<std::vector<AddrLineFrame>> Addr2Line(const std::string& file,
                                                  const std::vector<uint64_t>& vaddrs,
                                                  bool demangle, std::string* error) {
  std::vector<std::string> argv = {"addr2line", "-a", "-f", "-i"};
  if (demangle) argv.push_back("-C");
  argv.insert(argv.end(), {"-e", file});
  for (uint64_t vaddr : vaddrs) {
    std::ostringstream hex;
    hex << "0x" << std::hex << vaddr;
    argv.push_back(hex.str());
  }
  CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) {
    *error = "addr2line exited " + std::to_string(result.exit_code) + ": " + result.err;
    return {};
  }
  // Per address: "0x…" then pairs of lines, function and "file:line" (with an optional
  // " (discriminator N)").
  std::vector<std::vector<AddrLineFrame>> chains;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("0x", 0) == 0) {
      chains.emplace_back();
      continue;
    }
    if (chains.empty()) continue;
    AddrLineFrame frame;
    frame.function = line;
    std::string where;
    if (!std::getline(lines, where)) break;
    if (size_t paren = where.find(" ("); paren != std::string::npos) where.resize(paren);
    size_t colon = where.rfind(':');
    frame.file = colon == std::string::npos ? where : where.substr(0, colon);
    if (colon != std::string::npos) frame.line = std::atoll(where.c_str() + colon + 1);
    chains.back().push_back(std::move(frame));
  }
  if (chains.size() != vaddrs.size()) {
    *error = "addr2line answered " + std::to_string(chains.size()) + " addresses of " +
             std::to_string(vaddrs.size());
    return {};
  }
  return chains;
}

namespace {

bool EndsWithAny(const std::string& s, const std::vector<std::string>& suffixes) {
  for (const std::string& suffix : suffixes) {
    if (s.size() >= suffix.size() &&
        s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  }
  return false;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct NmSymbol {
  uint64_t address = 0;
  uint64_t size = 0;
};

// Every defined symbol, from `nm -S` over .symtab and .dynsym, by (mangled) name; size 0 when
// the symbol has none.
std::multimap<std::string, NmSymbol> DefinedSymbols(const std::string& file) {
  std::multimap<std::string, NmSymbol> symbols;
  for (bool dynamic : {false, true}) {
    std::vector<std::string> argv = {"nm", "-S", "--defined-only"};
    if (dynamic) argv.push_back("-D");
    argv.push_back(file);
    std::istringstream lines(RunCommand(argv).out);
    std::string line;
    while (std::getline(lines, line)) {
      // "000000000001ab20 0000000000000001 W _init", or without the size "0000000000001000 T f".
      std::istringstream fields(line);
      std::vector<std::string> tokens;
      for (std::string token; fields >> token;) tokens.push_back(token);
      if (tokens.size() == 4) {
        symbols.emplace(tokens[3], NmSymbol{std::stoull(tokens[0], nullptr, 16),
                                            std::stoull(tokens[1], nullptr, 16)});
      } else if (tokens.size() == 3) {
        symbols.emplace(tokens[2], NmSymbol{std::stoull(tokens[0], nullptr, 16), 0});
      }
    }
  }
  return symbols;
}

// Two names of one function: symbols at the same address (musl's __clock_gettime and its weak
// alias clock_gettime). Either is right.
bool AreAliases(const std::multimap<std::string, NmSymbol>& symbols, const std::string& a,
                const std::string& b) {
  auto [a_begin, a_end] = symbols.equal_range(a);
  auto [b_begin, b_end] = symbols.equal_range(b);
  for (auto i = a_begin; i != a_end; ++i) {
    for (auto j = b_begin; j != b_end; ++j) {
      if (i->second.address == j->second.address) return true;
    }
  }
  return false;
}

// binutils' addr2line names an address it has no better answer for by the nearest preceding
// symbol, whatever that symbol's size: in a stripped library a static function gets its
// neighbour's name. That is the failure pprofd refuses; it is not a name pprofd is missing.
bool Addr2LineGuessed(const std::multimap<std::string, NmSymbol>& symbols,
                      const std::string& function, uint64_t vaddr) {
  auto [begin, end] = symbols.equal_range(function);
  bool sized = false;
  for (auto it = begin; it != end; ++it) {
    if (it->second.size == 0) continue;  // no size: not a guess that can be proven
    sized = true;
    if (vaddr >= it->second.address && vaddr - it->second.address < it->second.size) return false;
  }
  return sized;
}

// pprofd's name for an address it could not name: "module+0x1a2b" (or a marker).
bool IsUnnamed(const std::string& function) {
  return function.empty() || function.find("+0x") != std::string::npos || function[0] == '[';
}

}  // namespace

Addr2LineComparison CompareWithAddr2Line(const RawProfile& profile,
                                         const std::vector<std::string>& file_suffixes,
                                         bool demangle) {
  Addr2LineComparison result;
  // Per file: the locations to check and their ELF addresses.
  std::map<std::string, std::vector<std::pair<const RawLocation*, uint64_t>>> by_file;
  for (const auto& [id, location] : profile.locations) {
    auto mapping = profile.mappings.find(location.mapping);
    if (mapping == profile.mappings.end() || !EndsWithAny(mapping->second.file, file_suffixes))
      continue;
    std::optional<uint64_t> vaddr = ElfVaddrOf(mapping->second, location.address);
    if (!vaddr) {
      result.error = "no executable segment of " + mapping->second.file + " holds the location";
      return result;
    }
    by_file[mapping->second.file].emplace_back(&location, *vaddr);
  }
  auto note = [&](const std::string& what) {
    if (result.examples.size() < 8) result.examples.push_back(what);
  };
  for (const auto& [file, locations] : by_file) {
    std::vector<uint64_t> vaddrs;
    for (const auto& entry : locations) vaddrs.push_back(entry.second);
    std::vector<std::vector<AddrLineFrame>> chains =
        Addr2Line(file, vaddrs, demangle, &result.error);
    if (chains.empty()) return result;
    const std::multimap<std::string, NmSymbol> symbols = DefinedSymbols(file);
    for (size_t i = 0; i < locations.size(); ++i) {
      const RawLocation& location = *locations[i].first;
      const std::vector<AddrLineFrame>& chain = chains[i];
      if (location.lines.empty() || chain.empty()) continue;
      ++result.checked;
      const RawLine& ours = location.lines.front();  // innermost, as addr2line's first
      const AddrLineFrame& theirs = chain.front();
      std::ostringstream where;
      where << Basename(file) << " 0x" << std::hex << locations[i].second << std::dec
            << ": pprofd '" << ours.function << "' " << ours.file << ":" << ours.line
            << ", addr2line '" << theirs.function << "' " << theirs.file << ":" << theirs.line;
      if (IsUnnamed(ours.function)) {
        if (theirs.function != "??" &&
            Addr2LineGuessed(symbols, theirs.function, locations[i].second)) {
          ++result.reference_guessed;
          note("addr2line guessed: " + where.str());
        } else if (theirs.function != "??") {
          ++result.missing_name;
          note("missing name: " + where.str());
        }
        continue;
      }
      if (ours.function != theirs.function &&
          !AreAliases(symbols, ours.function, theirs.function)) {
        ++result.wrong_name;
        note("wrong name: " + where.str());
        continue;
      }
      if (ours.line != 0 && theirs.line != 0 &&
          (ours.line != theirs.line || Basename(ours.file) != Basename(theirs.file))) {
        ++result.wrong_line;
        note("wrong line: " + where.str());
      }
    }
  }
  return result;
}

}  // namespace pprofd::e2e
