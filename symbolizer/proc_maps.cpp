#include "symbolizer/proc_maps.h"

#include <charconv>

#include "base/log.h"

namespace pprofd::symbolizer {
namespace {

// Cursor over one line; each Take* consumes a field and reports failure instead of throwing.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : rest_(line) {}

  bool TakeHex(uint64_t* out) {
    const char* begin = rest_.data();
    const char* end = begin + rest_.size();
    auto [ptr, ec] = std::from_chars(begin, end, *out, 16);
    if (ec != std::errc() || ptr == begin) return false;
    rest_.remove_prefix(static_cast<size_t>(ptr - begin));
    return true;
  }
  bool TakeDec(uint64_t* out) {
    const char* begin = rest_.data();
    const char* end = begin + rest_.size();
    auto [ptr, ec] = std::from_chars(begin, end, *out, 10);
    if (ec != std::errc() || ptr == begin) return false;
    rest_.remove_prefix(static_cast<size_t>(ptr - begin));
    return true;
  }
  bool TakeChar(char c) {
    if (rest_.empty() || rest_.front() != c) return false;
    rest_.remove_prefix(1);
    return true;
  }
  bool TakeSpaces() {
    size_t n = rest_.find_first_not_of(' ');
    if (n == 0) return false;
    rest_.remove_prefix(n == std::string_view::npos ? rest_.size() : n);
    return true;
  }
  bool TakeWord(std::string_view* out) {
    size_t n = rest_.find(' ');
    if (n == 0 || rest_.empty()) return false;
    if (n == std::string_view::npos) n = rest_.size();
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

bool ParsePerms(std::string_view perms, MapEntry* entry) {
  if (perms.size() != 4) return false;
  if (perms[0] != 'r' && perms[0] != '-') return false;
  if (perms[1] != 'w' && perms[1] != '-') return false;
  if (perms[2] != 'x' && perms[2] != '-') return false;
  if (perms[3] != 'p' && perms[3] != 's') return false;
  entry->readable = perms[0] == 'r';
  entry->writable = perms[1] == 'w';
  entry->executable = perms[2] == 'x';
  entry->shared = perms[3] == 's';
  return true;
}

// "start-end perms offset major:minor inode [path]"; the path is the rest of the line after the
// padding and may itself contain spaces.
bool ParseLine(std::string_view line, MapEntry* entry) {
  LineReader r(line);
  uint64_t major = 0;
  uint64_t minor = 0;
  std::string_view perms;
  if (!r.TakeHex(&entry->start) || !r.TakeChar('-') || !r.TakeHex(&entry->end) || !r.TakeSpaces() ||
      !r.TakeWord(&perms) || !ParsePerms(perms, entry) || !r.TakeSpaces() ||
      !r.TakeHex(&entry->file_offset) || !r.TakeSpaces() || !r.TakeHex(&major) ||
      !r.TakeChar(':') || !r.TakeHex(&minor) || !r.TakeSpaces() || !r.TakeDec(&entry->inode)) {
    return false;
  }
  if (entry->end < entry->start) return false;
  entry->dev_major = static_cast<uint32_t>(major);
  entry->dev_minor = static_cast<uint32_t>(minor);
  if (r.rest().empty()) return true;  // anonymous, without trailing padding
  if (!r.TakeSpaces()) return false;  // junk glued to the inode
  entry->path = std::string(r.rest());
  return true;
}

}  // namespace

StatusOr<std::vector<MapEntry>> ParseProcMaps(std::string_view text) {
  std::vector<MapEntry> entries;
  size_t line_number = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_number;
    if (line.empty()) continue;
    MapEntry entry;
    if (!ParseLine(line, &entry)) {
      return Status::Error(StrCat("proc maps line ", line_number, ": cannot parse \"", line, "\""));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace pprofd::symbolizer
