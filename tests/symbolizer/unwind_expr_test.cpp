#include <dwarf.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "symbolizer/dwarf_expr.h"

namespace pprofd::symbolizer {
namespace {

constexpr uint64_t kStackStart = 0x7ffd0000;

struct Fixture {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(64);
  KnownRegisters regs{/*ip=*/0x401000, /*sp=*/kStackStart, /*bp=*/kStackStart + 32, true};

  void Store(uint64_t address, uint64_t value) {
    std::memcpy(bytes.data() + (address - kStackStart), &value, sizeof(value));
  }
  ExprStatus Eval(const std::vector<ExprOp>& ops, uint64_t* result, const uint64_t* cfa = nullptr) {
    StackMemory memory(kStackStart, bytes);
    return EvaluateDwarfExpr(ops, regs, cfa, memory, result);
  }
};

// The CFA expression of every PLT entry (16 bytes each): rsp + 8, plus 8 more once the entry's
// push has run (offset >= 11 within the entry).
std::vector<ExprOp> PltCfa() {
  return {{DW_OP_breg7, 8, 0}, {DW_OP_breg16, 0, 0}, {DW_OP_lit15, 0, 0},
          {DW_OP_and, 0, 0},   {DW_OP_lit11, 0, 0},  {DW_OP_ge, 0, 0},
          {DW_OP_lit3, 0, 0},  {DW_OP_shl, 0, 0},    {DW_OP_plus, 0, 0}};
}

TEST_CASE("The PLT's CFA expression depends on the offset of rip in its entry") {
  Fixture f;
  uint64_t cfa = 0;
  f.regs.ip = 0x401030;  // jmp *GOT
  REQUIRE(f.Eval(PltCfa(), &cfa) == ExprStatus::kOk);
  CHECK(cfa == kStackStart + 8);
  f.regs.ip = 0x40103b;  // jmp PLT0, after push
  REQUIRE(f.Eval(PltCfa(), &cfa) == ExprStatus::kOk);
  CHECK(cfa == kStackStart + 16);
}

TEST_CASE("bregx, call_frame_cfa, plus_uconst and deref read the copied stack") {
  Fixture f;
  f.Store(kStackStart + 40, 0xabcdef);
  uint64_t v = 0;
  // libdw's synthesized form of "CFA = rbp + 16".
  REQUIRE(f.Eval({{DW_OP_bregx, 6, 16}}, &v) == ExprStatus::kOk);
  CHECK(v == kStackStart + 48);

  const uint64_t cfa = kStackStart + 48;
  REQUIRE(f.Eval({{DW_OP_call_frame_cfa, 0, 0},
                  {DW_OP_plus_uconst, static_cast<uint64_t>(-8), 0},
                  {DW_OP_deref, 0, 0}},
                 &v, &cfa) == ExprStatus::kOk);
  CHECK(v == 0xabcdef);

  REQUIRE(f.Eval({{DW_OP_breg7, 40, 0}, {DW_OP_deref_size, 2, 0}}, &v) == ExprStatus::kOk);
  CHECK(v == 0xcdef);
}

TEST_CASE("Arithmetic, constants and signed comparisons") {
  Fixture f;
  uint64_t v = 0;
  REQUIRE(f.Eval({{DW_OP_const2u, 1000, 0}, {DW_OP_lit7, 0, 0}, {DW_OP_minus, 0, 0}}, &v) ==
          ExprStatus::kOk);
  CHECK(v == 993);
  REQUIRE(
      f.Eval({{DW_OP_consts, static_cast<uint64_t>(-1), 0}, {DW_OP_lit0, 0, 0}, {DW_OP_lt, 0, 0}},
             &v) == ExprStatus::kOk);
  CHECK(v == 1);  // -1 < 0 signed, although 0xfff..f > 0 unsigned
  REQUIRE(f.Eval({{DW_OP_lit1, 0, 0},
                  {DW_OP_const1u, 40, 0},
                  {DW_OP_shl, 0, 0},
                  {DW_OP_stack_value, 0, 0}},
                 &v) == ExprStatus::kOk);
  CHECK(v == (uint64_t{1} << 40));
}

TEST_CASE("A load outside the copied stack is truncation, not a value") {
  Fixture f;
  uint64_t v = 0;
  CHECK(f.Eval({{DW_OP_breg7, 64, 0}, {DW_OP_deref, 0, 0}}, &v) == ExprStatus::kOutOfStack);
  CHECK(f.Eval({{DW_OP_breg7, 60, 0}, {DW_OP_deref, 0, 0}}, &v) == ExprStatus::kOutOfStack);
  CHECK(f.Eval({{DW_OP_breg7, static_cast<uint64_t>(-8), 0}, {DW_OP_deref, 0, 0}}, &v) ==
        ExprStatus::kOutOfStack);
  CHECK(f.Eval({{DW_OP_breg7, 56, 0}, {DW_OP_deref, 0, 0}}, &v) == ExprStatus::kOk);
}

TEST_CASE("Registers and operations we do not have are unsupported") {
  Fixture f;
  uint64_t v = 0;
  CHECK(f.Eval({{DW_OP_breg3, 0, 0}}, &v) == ExprStatus::kUnsupported);           // rbx
  CHECK(f.Eval({{DW_OP_bregx, 10, 0}}, &v) == ExprStatus::kUnsupported);          // r10 (DRAP)
  CHECK(f.Eval({{DW_OP_call_frame_cfa, 0, 0}}, &v) == ExprStatus::kUnsupported);  // CFA itself
  CHECK(f.Eval({{DW_OP_plus, 0, 0}}, &v) == ExprStatus::kUnsupported);            // underflow
  CHECK(f.Eval({}, &v) == ExprStatus::kUnsupported);
  CHECK(f.Eval({{DW_OP_stack_value, 0, 0}, {DW_OP_lit1, 0, 0}}, &v) == ExprStatus::kUnsupported);
  CHECK(f.Eval({{DW_OP_skip, 0, 0}}, &v) == ExprStatus::kUnsupported);
  f.regs.bp_valid = false;
  CHECK(f.Eval({{DW_OP_breg6, 16, 0}}, &v) == ExprStatus::kUnsupported);
}

}  // namespace
}  // namespace pprofd::symbolizer
