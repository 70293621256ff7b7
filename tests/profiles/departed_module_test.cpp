// Modules whose library the target unloaded, through the real normalizer and symbolizer of this
// process: the module does not keep its file open; once the ElfCache closed it, its frames keep
// the names already found for that file (by build-id) and are otherwise named module+offset,
// never from another file; its mapping keeps the build-id.
#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/stack_normalizer.h"
#include "symbolizer/address_space.h"
#include "symbolizer/elf_cache.h"
#include "symbolizer/unwinder.h"

namespace pprofd::profiles {
namespace {

// A copy of the churn fixture's library under a fresh name, loaded into this process.
class LoadedCopy {
 public:
  LoadedCopy() {
    path_ = std::filesystem::temp_directory_path() /
            ("pprofd-departed-" + std::to_string(::getpid()) + ".so");
    std::filesystem::copy_file(CHURN_LIBRARY, path_,
                               std::filesystem::copy_options::overwrite_existing);
    handle_ = ::dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
    INFO(::dlerror());
    REQUIRE(handle_ != nullptr);
    hot_ = reinterpret_cast<uint64_t>(::dlsym(handle_, "churn_hot_spin"));
    REQUIRE(hot_ != 0);
  }
  ~LoadedCopy() { Unload(); }
  void Unload() {
    if (handle_ != nullptr) ::dlclose(handle_);
    handle_ = nullptr;
    std::filesystem::remove(path_);
  }
  uint64_t hot() const { return hot_; }
  std::string name() const { return path_.filename().string(); }

 private:
  std::filesystem::path path_;
  void* handle_ = nullptr;
  uint64_t hot_ = 0;
};

struct Symbolizing {
  explicit Symbolizing(size_t max_idle_files)
      : cache(symbolizer::ElfCacheLimits{.max_idle_files = max_idle_files}) {
    REQUIRE(address_space.Refresh().ok());
  }
  std::string Name(const Frame& frame) {
    const std::vector<proto::LineInfo>& lines = frames.Lines(frame);
    REQUIRE(!lines.empty());
    return lines.back().function;
  }

  symbolizer::ElfCache cache;
  symbolizer::AddressSpace address_space{::getpid(), &cache};
  symbolizer::Unwinder unwinder{&address_space};
  StackNormalizer normalizer{&address_space, &unwinder};
  FrameSymbolizer frames{&normalizer, nullptr};
};

TEST_CASE("A module whose library was unloaded is named honestly once its file is closed") {
  LoadedCopy library;
  Symbolizing s(/*max_idle_files=*/0);
  std::optional<uint32_t> module = s.normalizer.ModuleOf(library.hot());
  REQUIRE(module.has_value());
  const Frame named_before{*module, library.hot() + 4};
  const Frame never_named{*module, library.hot() + 8};
  REQUIRE(s.normalizer.File(*module) != nullptr);
  CHECK(s.Name(named_before) == "churn_hot_spin");
  const std::string build_id = s.frames.MappingFor(*module).build_id;
  CHECK_FALSE(build_id.empty());
  const size_t open_while_mapped = s.cache.open_files();

  library.Unload();
  REQUIRE(s.address_space.Refresh().ok());
  CHECK(s.normalizer.File(*module) == nullptr);  // closed: no idle file is kept
  CHECK(s.cache.open_files() == open_while_mapped - 1);
  CHECK(s.Name(named_before) == "churn_hot_spin");  // already known for this build-id
  CHECK(s.Name(never_named) == library.name() + "+0x" + [&] {
    char hex[32];
    const symbolizer::Mapping& mapping = s.normalizer.user_module(*module).mapping;
    std::snprintf(hex, sizeof(hex), "%llx",
                  static_cast<unsigned long long>(mapping.FileOffsetOf(never_named.address)));
    return std::string(hex);
  }());
  const proto::MappingInfo mapping = s.frames.MappingFor(*module);
  CHECK(mapping.build_id == build_id);
  CHECK(mapping.has_functions);
}

TEST_CASE("A module whose library was unloaded keeps its file while the cache keeps it idle") {
  LoadedCopy library;
  Symbolizing s(/*max_idle_files=*/4);
  std::optional<uint32_t> module = s.normalizer.ModuleOf(library.hot());
  REQUIRE(module.has_value());
  library.Unload();
  REQUIRE(s.address_space.Refresh().ok());
  REQUIRE(s.normalizer.File(*module) != nullptr);
  CHECK(s.Name(Frame{*module, library.hot() + 8}) == "churn_hot_spin");
}

}  // namespace
}  // namespace pprofd::profiles
