// Independent answers from binutils (nm, readelf, objdump) to check the locator's ELF reading.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pprofd::heap::testing {

// Address of the defined dynamic symbol `name` per `nm -D --defined-only`.
std::optional<uint64_t> NmDynamicAddress(const std::string& file, const std::string& name);

// File offset of `vaddr` per the LOAD lines of `readelf -lW`.
std::optional<uint64_t> ReadelfFileOffset(const std::string& file, uint64_t vaddr);

// "Build ID" per `readelf -n`, empty when none.
std::string ReadelfBuildId(const std::string& file);

// The mnemonic objdump gives for the instruction at `vaddr` (e.g. "push").
std::string ObjdumpMnemonicAt(const std::string& file, uint64_t vaddr);

}  // namespace pprofd::heap::testing
