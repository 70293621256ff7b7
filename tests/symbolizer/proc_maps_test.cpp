#include "symbolizer/proc_maps.h"

#include <catch2/catch.hpp>

namespace pprofd::symbolizer {
namespace {

// Captured from a real process (kernel 6.18), padding as the kernel writes it.
constexpr std::string_view kMaps =
    "55c7461dd000-55c7461de000 r--p 00000000 fe:01 1837519                    "
    "/work/main/build/unwind_recorder\n"
    "55c7461de000-55c7461e2000 r-xp 00001000 fe:01 1837519                    "
    "/work/main/build/unwind_recorder\n"
    "55c747a1e000-55c747a3f000 rw-p 00000000 00:00 0                          [heap]\n"
    "7fa6e5a00000-7fa6e5a26000 r--p 00000000 fe:01 660253                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7fa6e5a26000-7fa6e5b7b000 r-xp 00026000 fe:01 660253                     "
    "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7fa6e5c00000-7fa6e5c04000 rw-p 00000000 00:00 0 \n"
    "7fa6e5d00000-7fa6e5d01000 r-xs 00002000 00:05 4242                       "
    "/tmp/my dir/lib with spaces.so (deleted)\n"
    "7fa6e5d10000-7fa6e5d11000 rw-p 00000000 00:00 0\n"
    "7fffdc43d000-7fffdc45e000 rw-p 00000000 00:00 0                          [stack]\n"
    "7fffdc5d9000-7fffdc5db000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

TEST_CASE("ParseProcMaps reads every field") {
  auto entries = ParseProcMaps(kMaps);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 11);

  const MapEntry& text = (*entries)[1];
  CHECK(text.start == 0x55c7461de000);
  CHECK(text.end == 0x55c7461e2000);
  CHECK(text.readable);
  CHECK_FALSE(text.writable);
  CHECK(text.executable);
  CHECK_FALSE(text.shared);
  CHECK(text.file_offset == 0x1000);
  CHECK(text.dev_major == 0xfe);
  CHECK(text.dev_minor == 0x01);
  CHECK(text.inode == 1837519);
  CHECK(text.path == "/work/main/build/unwind_recorder");

  const MapEntry& libc = (*entries)[4];
  CHECK(libc.file_offset == 0x26000);
  CHECK(libc.path == "/usr/lib/x86_64-linux-gnu/libc.so.6");

  CHECK((*entries)[2].path == "[heap]");
  CHECK((*entries)[8].path == "[stack]");
  CHECK((*entries)[9].path == "[vdso]");
  CHECK((*entries)[9].executable);
  CHECK((*entries)[10].start == 0xffffffffff600000);
  CHECK((*entries)[10].path == "[vsyscall]");
  CHECK_FALSE((*entries)[10].readable);
}

TEST_CASE("ParseProcMaps keeps anonymous mappings with and without trailing padding") {
  auto entries = ParseProcMaps(kMaps);
  REQUIRE(entries.ok());
  CHECK((*entries)[5].path.empty());
  CHECK((*entries)[5].inode == 0);
  CHECK((*entries)[7].path.empty());
  CHECK((*entries)[7].writable);
}

TEST_CASE("ParseProcMaps keeps spaces and the deleted marker in paths") {
  auto entries = ParseProcMaps(kMaps);
  REQUIRE(entries.ok());
  const MapEntry& deleted = (*entries)[6];
  CHECK(deleted.path == "/tmp/my dir/lib with spaces.so (deleted)");
  CHECK(deleted.shared);
  CHECK(deleted.file_offset == 0x2000);
  CHECK(deleted.dev_minor == 5);
}

TEST_CASE("ParseProcMaps accepts empty input and a missing final newline") {
  auto empty = ParseProcMaps("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  auto one = ParseProcMaps("1000-2000 r-xp 00000000 08:01 12 /bin/x");
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  CHECK(one->front().path == "/bin/x");
}

TEST_CASE("ParseProcMaps names the line it cannot parse") {
  struct Case {
    std::string_view text;
    std::string_view message;
  };
  const Case cases[] = {
      {"1000-2000 r-xp 00000000 08:01 12 /bin/x\nnot a mapping\n",
       "proc maps line 2: cannot parse \"not a mapping\""},
      {"1000-2000 rwzp 00000000 08:01 12 /bin/x\n",
       "proc maps line 1: cannot parse \"1000-2000 rwzp 00000000 08:01 12 /bin/x\""},
      {"2000-1000 r-xp 00000000 08:01 12\n",
       "proc maps line 1: cannot parse \"2000-1000 r-xp 00000000 08:01 12\""},
      {"1000-2000 r-xp 00000000 0801 12\n",
       "proc maps line 1: cannot parse \"1000-2000 r-xp 00000000 0801 12\""},
      {"1000-2000 r-xp 00000000 08:01 12x /bin/x\n",
       "proc maps line 1: cannot parse \"1000-2000 r-xp 00000000 08:01 12x /bin/x\""},
      {"1000-2000 r-xp\n", "proc maps line 1: cannot parse \"1000-2000 r-xp\""},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto entries = ParseProcMaps(c.text);
    REQUIRE_FALSE(entries.ok());
    CHECK(entries.status().message() == c.message);
  }
}

}  // namespace
}  // namespace pprofd::symbolizer
