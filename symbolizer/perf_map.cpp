#include "symbolizer/perf_map.h"

#include <charconv>
#include <limits>

namespace pprofd::symbolizer {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

void SkipBlanks(std::string_view* s) {
  while (!s->empty() && IsBlank(s->front())) s->remove_prefix(1);
}

// A hex number with an optional 0x/0X prefix, at most 64 bits.
bool TakeHex(std::string_view* s, uint64_t* out) {
  if (s->size() >= 2 && (*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X')) s->remove_prefix(2);
  const char* begin = s->data();
  const char* end = begin + s->size();
  auto [ptr, ec] = std::from_chars(begin, end, *out, 16);
  if (ec != std::errc() || ptr == begin) return false;  // also rejects values over 64 bits
  s->remove_prefix(static_cast<size_t>(ptr - begin));
  return true;
}

// "START SIZE name": the name is the rest of the line (names hold spaces: "LazyCompile:~f a.js:1").
bool ParseLine(std::string_view line, PerfMapEntry* entry) {
  while (!line.empty() && (IsBlank(line.back()) || line.back() == '\r')) line.remove_suffix(1);
  SkipBlanks(&line);
  if (!TakeHex(&line, &entry->start)) return false;
  if (line.empty() || !IsBlank(line.front())) return false;
  SkipBlanks(&line);
  if (!TakeHex(&line, &entry->size)) return false;
  if (line.empty() || !IsBlank(line.front())) return false;
  SkipBlanks(&line);
  if (line.empty() || entry->size == 0) return false;
  if (entry->start > std::numeric_limits<uint64_t>::max() - entry->size) return false;
  entry->name = line;
  return true;
}

}  // namespace

PerfMapParse ParsePerfMap(std::string_view text, const PerfMapLimits& limits) {
  PerfMapParse result;
  size_t position = 0;
  while (position < text.size()) {
    const size_t eol = text.find('\n', position);
    const bool terminated = eol != std::string_view::npos;
    const size_t line_end = terminated ? eol : text.size();
    const std::string_view line = text.substr(position, line_end - position);
    if (result.entries.size() >= limits.max_entries) {
      result.entry_limit_reached = true;
      break;
    }
    if (line.size() > limits.max_line_bytes) {
      // An unterminated long line may still be being written; it is skipped when complete.
      if (!terminated) break;
      ++result.long_lines;
    } else if (!line.empty()) {
      PerfMapEntry entry;
      if (ParseLine(line, &entry)) {
        result.entries.push_back(entry);
      } else if (terminated) {
        ++result.malformed_lines;
      }
    }
    if (!terminated) break;
    position = eol + 1;
    result.consumed = position;
  }
  return result;
}

bool PerfMapIndex::Add(const std::vector<PerfMapEntry>& entries) {
  for (const PerfMapEntry& entry : entries) {
    if (ranges_.size() >= max_entries_) return false;
    if (names_.size() + entry.name.size() > std::numeric_limits<uint32_t>::max()) return false;
    Range range;
    range.start = entry.start;
    range.end = entry.start + entry.size;
    range.name_offset = static_cast<uint32_t>(names_.size());
    range.name_size = static_cast<uint32_t>(entry.name.size());
    // Control characters would reach terminals and text profiles as they are.
    for (char c : entry.name) {
      const auto byte = static_cast<unsigned char>(c);
      names_.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
    }
    Insert(range.start, range.end, range);
  }
  return true;
}

void PerfMapIndex::Insert(uint64_t start, uint64_t end, const Range& range) {
  auto it = ranges_.lower_bound(start);
  // A range starting before `start` keeps its head, and its tail when it reaches past `end`.
  if (it != ranges_.begin()) {
    auto before = std::prev(it);
    if (before->second.end > start) {
      const Range old = before->second;
      before->second.end = start;
      if (old.end > end) ranges_.emplace(end, old);
    }
  }
  // Ranges starting inside [start, end) are covered, except a tail past `end`.
  while (it != ranges_.end() && it->first < end) {
    if (it->second.end > end) {
      const Range tail = it->second;
      ranges_.erase(it);
      ranges_.emplace(end, tail);
      break;
    }
    it = ranges_.erase(it);
  }
  ranges_.emplace(start, range);
}

std::optional<PerfMapSymbol> PerfMapIndex::Find(uint64_t address) const {
  auto it = ranges_.upper_bound(address);
  if (it == ranges_.begin()) return std::nullopt;
  --it;
  if (address >= it->second.end) return std::nullopt;
  return PerfMapSymbol{it->second.start, std::string_view(names_).substr(it->second.name_offset,
                                                                         it->second.name_size)};
}

void PerfMapIndex::Clear() {
  ranges_.clear();
  names_.clear();
}

}  // namespace pprofd::symbolizer
