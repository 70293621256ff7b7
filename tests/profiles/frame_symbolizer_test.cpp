// Names of code outside ELF files, through the real normalizer and symbolizer of this process:
// anonymous executable memory named by this process's own perf map, as a JIT would, or honestly
// by its mapping when the map has no entry; names that follow the map as it grows.
#include "agent/profiles/frame_symbolizer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/unwinder.h"

namespace pprofd::profiles {
namespace {

std::string Hex(uint64_t value) {
  std::ostringstream out;
  out << std::hex << value;
  return out.str();
}

// Anonymous executable memory, unmapped on destruction, and this process's perf map.
class AnonymousCode {
 public:
  AnonymousCode() : perf_map_("/tmp/perf-" + std::to_string(::getpid()) + ".map") {
    std::remove(perf_map_.c_str());
    memory_ = ::mmap(nullptr, kSize, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory_ != MAP_FAILED);
  }
  ~AnonymousCode() {
    ::munmap(memory_, kSize);
    std::remove(perf_map_.c_str());
  }
  uint64_t start() const { return reinterpret_cast<uint64_t>(memory_); }
  void AppendToPerfMap(const std::string& line) {
    std::ofstream out(perf_map_, std::ios::app);
    out << line << "\n";
  }

  static constexpr size_t kSize = 4096;

 private:
  std::string perf_map_;
  void* memory_ = nullptr;
};

struct Symbolizing {
  Symbolizing() {
    REQUIRE(address_space.Refresh().ok());
    symbolizer::PerfMapReader::Options eager;
    eager.min_check_interval = std::chrono::milliseconds(0);
    frames = std::make_unique<FrameSymbolizer>(&normalizer, nullptr, eager);
  }
  Frame FrameAt(uint64_t address) {
    std::optional<uint32_t> module = normalizer.ModuleOf(address);
    REQUIRE(module.has_value());
    return Frame{*module, address};
  }
  std::string Name(uint64_t address) {
    const std::vector<proto::LineInfo>& lines = frames->Lines(FrameAt(address));
    REQUIRE(lines.size() == 1);
    return lines.front().function;
  }

  symbolizer::ElfCache cache;
  symbolizer::AddressSpace address_space{::getpid(), &cache};
  symbolizer::Unwinder unwinder{&address_space};
  StackNormalizer normalizer{&address_space, &unwinder};
  std::unique_ptr<FrameSymbolizer> frames;
};

TEST_CASE("Code in anonymous memory is named from the perf map, or by its mapping") {
  AnonymousCode code;
  Symbolizing s;
  const uint64_t f = code.start() + 0x100;
  CHECK(s.Name(f + 4) == "[anon]+0x104");

  code.AppendToPerfMap(Hex(f) + " 40 LazyCompile:~hot /srv/app.js:12");
  code.AppendToPerfMap("0x" + Hex(f + 0x40) + " 0x20 _ZN3jit4HashEPKcm");
  CHECK(s.Name(f + 4) == "LazyCompile:~hot /srv/app.js:12");
  CHECK(s.Name(f + 0x3f) == "LazyCompile:~hot /srv/app.js:12");
  // C++ names from the map are demangled; the mangled one stays the system name.
  const std::vector<proto::LineInfo>& hash = s.frames->Lines(s.FrameAt(f + 0x48));
  REQUIRE(hash.size() == 1);
  CHECK(hash.front().function == "jit::Hash(char const*, unsigned long)");
  CHECK(hash.front().system_name == "_ZN3jit4HashEPKcm");
  CHECK(s.Name(f + 0x60) == "[anon]+0x160");  // past every entry

  SECTION("code recompiled in place gets the name of the newest entry") {
    code.AppendToPerfMap(Hex(f) + " 40 LazyCompile:*hot /srv/app.js:12");
    CHECK(s.Name(f + 4) == "LazyCompile:*hot /srv/app.js:12");
  }
  SECTION("the mapping is one user module with functions, not a file") {
    const proto::MappingInfo mapping = s.frames->MappingFor(s.FrameAt(f).module);
    CHECK(mapping.memory_start == code.start());
    CHECK(mapping.has_functions);
    CHECK(mapping.build_id.empty());
  }
}

TEST_CASE("Anonymous memory named with PR_SET_VMA_ANON_NAME keeps its name") {
  Symbolizing s;
  UserModule module;
  module.mapping.entry.start = 0x7f0000000000;
  module.mapping.entry.end = 0x7f0000010000;
  module.mapping.entry.executable = true;
  module.mapping.entry.path = "[anon:v8 code/space]";  // the kernel allows '/' in these names
  CHECK(s.frames->ModuleOffsetName(module, 0x7f0000001234) == "[anon:v8 code/space]+0x1234");
  module.mapping.entry.path = "";
  CHECK(s.frames->ModuleOffsetName(module, 0x7f0000001234) == "[anon]+0x1234");
  // A file still goes by its base name and file offset.
  module.mapping.entry.path = "/usr/lib/libfoo.so";
  module.mapping.entry.file_offset = 0x2000;
  CHECK(s.frames->ModuleOffsetName(module, 0x7f0000001234) == "libfoo.so+0x3234");
}

}  // namespace
}  // namespace pprofd::profiles
