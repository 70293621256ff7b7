#include "agent/profiles/legacy_text.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace pprofd::profiles {

void AppendHex(std::string* out, uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "0x%" PRIx64, value);
  out->append(buffer);
}

void AppendReturnAddresses(std::string* out, std::span<const Frame> frames) {
  for (const Frame& frame : frames) {
    out->push_back(' ');
    // Frames hold an address inside the call; Go prints the return address after it.
    AppendHex(out, frame.module == kMarkerModule ? frame.address : frame.address + 1);
  }
  out->push_back('\n');
}

void AppendFrameComments(std::string* out, std::span<const Frame> frames,
                         FrameSymbolizer& symbolizer) {
  for (const Frame& frame : frames) {
    const std::vector<proto::LineInfo>& lines = symbolizer.Lines(frame);
    if (lines.empty()) {
      out->append("#\t");
      AppendHex(out, frame.address);
      out->push_back('\n');
    }
    for (const proto::LineInfo& line : lines) {
      out->append("#\t");
      AppendHex(out, frame.address);
      out->push_back('\t');
      out->append(line.function);
      if (!line.filename.empty()) {
        out->append("+0x0\t" + line.filename + ":" + std::to_string(line.line));
      }
      out->push_back('\n');
    }
  }
}

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void AppendCommentBlock(std::string* out, const std::vector<std::string>& comments) {
  out->append("# pprofd\n");
  for (const std::string& comment : comments) out->append("# " + OneLine(comment) + "\n");
}

}  // namespace pprofd::profiles
