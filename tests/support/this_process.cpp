#include "tests/support/this_process.h"

#include <dlfcn.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace pprofd::testing {
namespace {

// Any function of the test executable names its module.
__attribute__((noinline)) void InTestExecutable() { asm volatile(""); }

std::optional<symbolizer::KernelSymbols> ParseKallsyms(std::string_view kallsyms) {
  if (kallsyms.empty()) return std::nullopt;
  auto parsed = symbolizer::KernelSymbols::Parse(kallsyms);
  REQUIRE(parsed.ok());
  return std::move(*parsed);
}

}  // namespace

ThisProcess::ThisProcess(std::string_view kallsyms)
    : kernel(ParseKallsyms(kallsyms)), symbolizer(&normalizer, kernel ? &*kernel : nullptr) {
  REQUIRE(address_space.Refresh().ok());
}

Frame ThisProcess::FrameAt(const void* function) {
  const uint64_t address = reinterpret_cast<uint64_t>(function) + 1;
  std::optional<uint32_t> module = normalizer.ModuleOf(address);
  REQUIRE(module.has_value());
  return Frame{*module, address};
}

Frame ThisProcess::Symbol(const char* name) {
  void* address = ::dlsym(RTLD_DEFAULT, name);
  INFO(name);
  REQUIRE(address != nullptr);
  return FrameAt(address);
}

std::optional<uint32_t> ThisProcess::MainModule() {
  return normalizer.ModuleOf(reinterpret_cast<uint64_t>(&InTestExecutable));
}

}  // namespace pprofd::testing
