// Pieces of Go's legacy text profiles (?debug=1) shared by the heap, thread and off-CPU writers,
// so all three print stacks and comments the same way and pprof's legacy parser reads them alike.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/frames.h"

namespace pprofd::profiles {

// Go's "%#x": 0x-prefixed lower-case hex, "0x0" for zero.
void AppendHex(std::string* out, uint64_t value);

// " 0x... 0x...\n" after a record's "@": the return addresses (frame address + 1), as Go prints
// them and as pprof's legacy parser expects (it subtracts one). Markers print as themselves.
void AppendReturnAddresses(std::string* out, std::span<const Frame> frames);

// One "#\t0x...\tfunction+0x0\tfile:line" line per function of each frame, inlined ones first;
// the name alone when there is no file, the address alone when there is no name. pprof ignores
// these lines; people read them.
void AppendFrameComments(std::string* out, std::span<const Frame> frames,
                         FrameSymbolizer& symbolizer);

// A comment kept to one line: a line break would start a line pprof parses as a record.
std::string OneLine(std::string text);

// "# pprofd" then "# <comment>" per comment, where Go prints its runtime statistics.
void AppendCommentBlock(std::string* out, const std::vector<std::string>& comments);

}  // namespace pprofd::profiles
