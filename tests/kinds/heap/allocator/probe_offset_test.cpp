#include "agent/kinds/heap/allocator/probe_offset.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/kinds/heap/allocator/allocator_locator.h"
#include "agent/kinds/heap/allocator/elf_module.h"
#include "tests/kinds/heap/allocator/binutils_reference.h"
#include "tests/kinds/heap/allocator/child_process.h"

namespace pprofd::heap {
namespace {

using Bytes = std::vector<uint8_t>;

uint64_t Offset(const Bytes& code, bool allow_past_entry) {
  return ProbeOffsetWithin(code, allow_past_entry);
}

constexpr char kLibc[] = "/lib/x86_64-linux-gnu/libc.so.6";

TEST_CASE("glibc's free prologue: the probe moves to the push after the null guard") {
  // test %rdi,%rdi; je rel32; push %rbp  (glibc 2.36 free)
  const Bytes rel32 = {0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48};
  CHECK(Offset(rel32, true) == 9);
  CHECK(Offset(rel32, false) == 0);
  // je rel8; push %rbx
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10, 0x53}, true) == 5);
  // je rel8; push %r12
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10, 0x41, 0x54}, true) == 5);
  // je rel32; push %r15
  CHECK(Offset({0x48, 0x85, 0xff, 0x0f, 0x84, 1, 2, 3, 4, 0x41, 0x57}, true) == 9);
}

TEST_CASE("anything but the exact pattern leaves the probe at the entry") {
  CHECK(Offset({}, true) == 0);
  CHECK(Offset({0x55, 0x53}, true) == 0);                                // already a push
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0x8b}, true) == 0);  // guard, then a mov
  CHECK(Offset({0x48, 0x85, 0xf6, 0x74, 0x10, 0x55}, true) == 0);  // test %rsi: another argument
  CHECK(Offset({0x48, 0x85, 0xff, 0x75, 0x10, 0x55}, true) == 0);  // jne, not je
  CHECK(Offset({0x48, 0x85, 0xff, 0x0f, 0x84, 0, 0}, true) == 0);  // truncated rel32
  CHECK(Offset({0x48, 0x85, 0xff, 0x74}, true) == 0);              // truncated rel8
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10}, true) == 0);        // nothing after the guard
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10, 0x41}, true) == 0);  // half a push
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10, 0x41, 0x58}, true) == 0);  // pop %r8
  CHECK(Offset({0x48, 0x85, 0xff, 0x74, 0x10, 0x58}, true) == 0);        // pop %rax
}

TEST_CASE("endbr64 is skipped only when a push follows and moving is allowed") {
  const Bytes endbr_push = {0xf3, 0x0f, 0x1e, 0xfa, 0x55};
  CHECK(Offset(endbr_push, true) == 4);
  CHECK(Offset(endbr_push, false) == 0);
  CHECK(Offset({0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x89, 0xf8}, true) == 0);  // endbr64; mov
  CHECK(Offset({0xf3, 0x0f, 0x1e, 0xfa}, true) == 0);
  // endbr64; test %rdi,%rdi; je rel32; push %rbp
  CHECK(Offset({0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0x0f, 0x84, 1, 0, 0, 0, 0x55}, true) ==
        13);
}

TEST_CASE("instructions uprobes emulate") {
  CHECK(EmulatedInstructionLength(Bytes{0x55}) == 1);
  CHECK(EmulatedInstructionLength(Bytes{0x41, 0x57}) == 2);
  CHECK(EmulatedInstructionLength(Bytes{0xe8, 0, 0, 0, 0}) == 5);
  CHECK(EmulatedInstructionLength(Bytes{0xe9, 0, 0, 0, 0}) == 5);
  CHECK(EmulatedInstructionLength(Bytes{0xeb, 0}) == 2);
  CHECK(EmulatedInstructionLength(Bytes{0x74, 0}) == 2);
  CHECK(EmulatedInstructionLength(Bytes{0x0f, 0x84, 0, 0, 0, 0}) == 6);
  CHECK(EmulatedInstructionLength(Bytes{0x48, 0x85, 0xff}) == 0);           // test
  CHECK(EmulatedInstructionLength(Bytes{0x80, 0x3d, 0, 0, 0, 0, 0}) == 0);  // cmpb
  CHECK(EmulatedInstructionLength(Bytes{0xe8, 0, 0}) == 0);                 // truncated
  CHECK(StartsWithEndbr64(Bytes{0xf3, 0x0f, 0x1e, 0xfa}));
  CHECK_FALSE(StartsWithEndbr64(Bytes{0xf3, 0x0f, 0x1e}));
}

TEST_CASE("the real glibc free on this machine is probed at +9, on a push") {
  const std::vector<std::string_view> names = {"free", "malloc"};
  StatusOr<ElfModule> libc = ReadElfModule(kLibc, names);
  REQUIRE(libc.ok());
  REQUIRE(libc->functions.contains("free"));
  const FunctionSymbol& free_symbol = libc->functions.find("free")->second;
  const uint64_t delta = ProbeOffsetWithin(free_symbol.code, true);
  CHECK(delta == 9);
  // objdump agrees the instruction there is a push, and the symbol address is nm's.
  const std::optional<uint64_t> nm_free = testing::NmDynamicAddress(kLibc, "free");
  REQUIRE(nm_free.has_value());
  CHECK(free_symbol.vaddr == *nm_free);
  CHECK(testing::ObjdumpMnemonicAt(kLibc, *nm_free + delta) == "push");
  CHECK(testing::ObjdumpMnemonicAt(kLibc, *nm_free) == "test");
  // malloc must keep its entry (its return probe sits there).
  CHECK(ProbeOffsetWithin(libc->functions.find("malloc")->second.code, false) == 0);
}

TEST_CASE("VaddrToFileOffset goes through the PT_LOAD holding the address in the file") {
  const std::vector<LoadSegment> loads = {
      {0x0, 0x0, 0x500}, {0x401000, 0x1000, 0x200}, {0x603e10, 0x2e10, 0x100}};
  CHECK(VaddrToFileOffset(loads, 0x10) == 0x10);
  CHECK(VaddrToFileOffset(loads, 0x401000) == 0x1000);
  CHECK(VaddrToFileOffset(loads, 0x4011ff) == 0x11ff);
  CHECK_FALSE(VaddrToFileOffset(loads, 0x401200).has_value());  // past the file size (bss)
  CHECK(VaddrToFileOffset(loads, 0x603e20) == 0x2e20);
  CHECK_FALSE(VaddrToFileOffset(loads, 0x900000).has_value());
}

}  // namespace
}  // namespace pprofd::heap
