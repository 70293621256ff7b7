#include "symbolizer/kallsyms.h"

#include <catch2/catch.hpp>

namespace pprofd::symbolizer {
namespace {

constexpr char kGolden[] =
    "ffffffff81000000 T _stext\n"
    "ffffffff81000000 T _text\n"
    "ffffffff81001000 T do_one_initcall\n"
    "ffffffff81002000 t local_helper\n"
    "ffffffff81003000 D some_data\n"
    "ffffffff81004000 W weak_function\n"
    "ffffffff81005000 T _etext\n"
    "ffffffff82000000 d more_data\n"
    "ffffffffc0a01000 t ext4_read\t[ext4]\n"
    "ffffffffc0a02000 T ext4_write\t[ext4]\n"
    "ffffffffc0b00000 t bpf_prog_1234_handler\t[bpf]\n";

TEST_CASE("KernelSymbols parses kallsyms text", "[kallsyms]") {
  auto symbols = KernelSymbols::Parse(kGolden);
  INFO(symbols.status().message());
  REQUIRE(symbols.ok());
  CHECK(symbols->size() == 9);  // text symbols only

  const KernelSymbol* s = symbols->Find(0xffffffff81001234);
  REQUIRE(s != nullptr);
  CHECK(s->name == "do_one_initcall");
  CHECK(s->address == 0xffffffff81001000);
  CHECK(s->module.empty());

  s = symbols->Find(0xffffffff81002fff);
  REQUIRE(s != nullptr);
  CHECK(s->name == "local_helper");
  // Data symbols do not end the text symbol before them.
  s = symbols->Find(0xffffffff81003800);
  REQUIRE(s != nullptr);
  CHECK(s->name == "local_helper");
  s = symbols->Find(0xffffffff81004000);
  REQUIRE(s != nullptr);
  CHECK(s->name == "weak_function");

  s = symbols->Find(0xffffffffc0a01010);
  REQUIRE(s != nullptr);
  CHECK(s->name == "ext4_read");
  CHECK(s->module == "ext4");
  s = symbols->Find(0xffffffffc0b00000);
  REQUIRE(s != nullptr);
  CHECK(s->module == "bpf");
}

TEST_CASE("KernelSymbols finds nothing outside kernel text", "[kallsyms]") {
  auto symbols = KernelSymbols::Parse(kGolden);
  REQUIRE(symbols.ok());
  CHECK(symbols->Find(0) == nullptr);
  CHECK(symbols->Find(0xffffffff80ffffff) == nullptr);  // before the first
  CHECK(symbols->Find(0xffffffff81005000) == nullptr);  // _etext
  CHECK(symbols->Find(0xffffffff8fffffff) == nullptr);  // between _etext and modules
  CHECK(symbols->Find(0xffffffffc0b00010) == nullptr);  // past the last symbol
}

TEST_CASE("KernelSymbols explains zeroed addresses", "[kallsyms]") {
  auto symbols = KernelSymbols::Parse(
      "0000000000000000 T _stext\n"
      "0000000000000000 T do_one_initcall\n");
  REQUIRE_FALSE(symbols.ok());
  CHECK(symbols.status().message().find("kernel.kptr_restrict") != std::string::npos);
  CHECK(symbols.status().message().find("CAP_SYSLOG") != std::string::npos);
}

TEST_CASE("KernelSymbols rejects malformed text", "[kallsyms]") {
  CHECK_FALSE(KernelSymbols::Parse("").ok());
  auto bad = KernelSymbols::Parse("ffffffff81000000 T _stext\nzzzz T oops\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("line 2") != std::string::npos);
  CHECK_FALSE(KernelSymbols::Parse("ffffffff81000000 _stext\n").ok());
}

TEST_CASE("KernelSymbols loads this machine's /proc/kallsyms", "[kallsyms]") {
  auto symbols = KernelSymbols::Load();
  INFO(symbols.status().message());
  REQUIRE(symbols.ok());  // runs as root
  CHECK(symbols->size() > 10000);
  // Every kernel has schedule(): an address inside it resolves to it.
  const KernelSymbol* schedule = nullptr;
  for (const KernelSymbol& s : symbols->symbols()) {
    if (s.name == "schedule" && s.module.empty()) schedule = &s;
  }
  REQUIRE(schedule != nullptr);
  const KernelSymbol* found = symbols->Find(schedule->address + 1);
  REQUIRE(found != nullptr);
  CHECK(found->name == "schedule");
  CHECK(symbols->Find(0) == nullptr);
}

}  // namespace
}  // namespace pprofd::symbolizer
