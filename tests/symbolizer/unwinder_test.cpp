// Unwinds real stacks: the recorder fixture snapshots its own stack at a known depth (what the BPF
// sampler would copy) and stays alive, so AddressSpace reads its live /proc/PID like the agent.
#include "symbolizer/unwinder.h"

#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "base/scoped_fd.h"
#include "symbolizer/elf_cache.h"

#ifndef UNWIND_RECORDER
#error "UNWIND_RECORDER must name the recorder fixture"
#endif

namespace pprofd::symbolizer {
namespace {

// A running recorder paused at its deepest frame, with its snapshot loaded.
class Recording {
 public:
  explicit Recording(const std::string& mode, const std::string& binary = UNWIND_RECORDER) {
    char dir_template[] = "/tmp/unwind-snapshot-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    int to_child[2];
    int from_child[2];
    REQUIRE(::pipe2(to_child, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from_child, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      ::execl(binary.c_str(), binary.c_str(), mode.c_str(), dir_.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_.Reset(to_child[1]);
    ScopedFd out(from_child[0]);
    char buf[16] = {};
    ssize_t n = ::read(out.get(), buf, sizeof(buf) - 1);
    REQUIRE(std::string(buf, n > 0 ? n : 0) == "ready\n");

    std::istringstream regs(Read("regs"));
    regs >> std::hex >> regs_.ip >> regs_.sp >> regs_.bp;
    REQUIRE(regs_.sp != 0);
    std::string stack = Read("stack.bin");
    stack_.assign(stack.begin(), stack.end());
    std::istringstream expected(Read("expected"));
    for (std::string line; std::getline(expected, line);) expected_.push_back(line);
  }

  ~Recording() {
    stdin_.Reset();  // EOF lets the recorder return and exit
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::filesystem::remove_all(dir_);
  }

  pid_t pid() const { return pid_; }
  const UserRegisters& regs() const { return regs_; }
  StackCopy stack(size_t size = SIZE_MAX) const {
    return StackCopy{regs_.sp,
                     std::span<const uint8_t>(stack_).first(std::min(size, stack_.size()))};
  }
  size_t stack_size() const { return stack_.size(); }
  const std::vector<std::string>& expected() const { return expected_; }

 private:
  std::string Read(const std::string& name) {
    auto text = ReadFileToString(dir_ + "/" + name);
    REQUIRE(text.ok());
    return *text;
  }

  std::string dir_;
  pid_t pid_ = -1;
  ScopedFd stdin_;
  UserRegisters regs_;
  std::vector<uint8_t> stack_;
  std::vector<std::string> expected_;
};

std::string Describe(AddressSpace& space, const UnwindResult& result) {
  std::ostringstream out;
  for (uint64_t pc : result.pcs) {
    const Mapping* m = space.Find(pc);
    out << std::hex << "0x" << pc << " " << (m ? m->entry.path : "?") << "+0x"
        << (m ? m->FileOffsetOf(pc) : 0) << "\n";
  }
  out << "end: " << UnwindEndName(result.end);
  return out.str();
}

bool InModule(AddressSpace& space, uint64_t pc, const std::string& name) {
  const Mapping* m = space.Find(pc);
  return m != nullptr && m->entry.path.find(name) != std::string::npos;
}

// Checks `result` against the recorder's expectations (format in recorder.cpp).
void CheckAgainstExpected(AddressSpace& space, const UnwindResult& result,
                          const std::vector<std::string>& expected) {
  INFO("unwound:\n" << Describe(space, result));
  size_t i = 0;
  for (const std::string& line : expected) {
    INFO("expectation: " << line << " (frame " << i << ")");
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "end") {
      std::string name;
      std::getline(in >> std::ws, name);
      CHECK(UnwindEndName(result.end) == name);
      CHECK(i == result.pcs.size());
      continue;
    }
    if (kind == "anymodule") {
      std::string name;
      in >> name;
      while (i < result.pcs.size() && InModule(space, result.pcs[i], name)) ++i;
      continue;
    }
    REQUIRE(i < result.pcs.size());
    const uint64_t pc = result.pcs[i++];
    if (kind == "exact") {
      uint64_t want = 0;
      in >> std::hex >> want;
      CHECK(pc == want);
    } else if (kind == "range") {
      uint64_t lo = 0;
      uint64_t hi = 0;
      in >> std::hex >> lo >> hi;
      CHECK(pc >= lo);
      CHECK(pc < hi);
    } else if (kind == "function") {
      std::string name;
      in >> name;
      const Mapping* m = space.Find(pc);
      REQUIRE(m != nullptr);
      REQUIRE(m->elf != nullptr);
      std::vector<SourceFrame> frames = m->elf->Symbolize(m->VaddrOf(pc - 1));
      REQUIRE_FALSE(frames.empty());
      CHECK_THAT(frames.back().function, Catch::Contains(name));
    } else if (kind == "module") {
      std::string name;
      in >> name;
      CHECK(InModule(space, pc, name));
    } else {
      FAIL("unknown expectation " << line);
    }
  }
}

// True if `prefix` is a strict prefix of `full`.
bool IsStrictPrefix(const std::vector<uint64_t>& prefix, const std::vector<uint64_t>& full) {
  return prefix.size() < full.size() && std::equal(prefix.begin(), prefix.end(), full.begin());
}

TEST_CASE("Unwinds recursion in a PIE without frame pointers down to _start") {
  Recording rec("recurse");
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  REQUIRE(space.Refresh().ok());
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());
  CHECK(result.pcs.size() == 12);

  SECTION("the cached rules give the same frames") {
    UnwindResult again = unwinder.Unwind(rec.regs(), rec.stack());
    CHECK(again.pcs == result.pcs);
    CHECK(again.end == result.end);
  }
  SECTION("a 256-byte copy ends in truncation without garbage frames") {
    UnwindResult cut = unwinder.Unwind(rec.regs(), rec.stack(256));
    CHECK(cut.end == UnwindEnd::kTruncated);
    CHECK(IsStrictPrefix(cut.pcs, result.pcs));
  }
  SECTION("every copy size gives a prefix of the full unwind") {
    for (size_t size = 0; size <= rec.stack_size(); size += 8) {
      INFO("copy size " << size);
      UnwindResult cut = unwinder.Unwind(rec.regs(), rec.stack(size));
      if (cut.end == UnwindEnd::kComplete) {
        CHECK(cut.pcs == result.pcs);
      } else {
        CHECK(cut.end == UnwindEnd::kTruncated);
        CHECK(IsStrictPrefix(cut.pcs, result.pcs));
      }
    }
  }
  SECTION("max_frames stops the unwind") {
    UnwindResult cut = unwinder.Unwind(rec.regs(), rec.stack(), 3);
    CHECK(cut.end == UnwindEnd::kMaxDepth);
    CHECK(cut.pcs.size() == 3);
    CHECK(IsStrictPrefix(cut.pcs, result.pcs));
  }
  SECTION("a pc outside every mapping is not kept") {
    UserRegisters regs = rec.regs();
    regs.ip = 0x10;
    UnwindResult bad = unwinder.Unwind(regs, rec.stack());
    CHECK(bad.end == UnwindEnd::kUnknownMapping);
    CHECK(bad.pcs.empty());
  }
  SECTION("a return address outside every mapping ends the unwind and is not kept") {
    // The smallest copy that still gives the leaf's caller ends with its return address.
    size_t size = 8;
    while (size <= rec.stack_size() &&
           unwinder.Unwind(rec.regs(), rec.stack(size)).pcs.size() < 2) {
      size += 8;
    }
    REQUIRE(size <= rec.stack_size());
    const StackCopy copy = rec.stack();
    std::vector<uint8_t> corrupt(copy.bytes.begin(), copy.bytes.end());
    uint64_t slot = 0;
    std::memcpy(&slot, &corrupt[size - 8], 8);
    REQUIRE(slot == result.pcs[1]);
    const uint64_t garbage = 0x15;  // a small integer left where a return address was expected
    std::memcpy(&corrupt[size - 8], &garbage, 8);
    UnwindResult bad = unwinder.Unwind(rec.regs(), StackCopy{copy.start, corrupt});
    CHECK(bad.end == UnwindEnd::kUnknownMapping);
    CHECK(bad.pcs == std::vector<uint64_t>{result.pcs[0]});
  }
}

TEST_CASE("Unwinds through libc's qsort back into the program") {
  Recording rec("qsort");
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());
}

TEST_CASE("Finds the caller's CFI when a noreturn call ends the caller") {
  Recording rec("noreturn");
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());
}

TEST_CASE("Unwinds a thread's stack down to clone3") {
  Recording rec("thread");
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());
  REQUIRE(result.pcs.size() >= 2);
  // The outermost frame returns to just after clone3's "call *%rdx" that runs the thread.
  ScopedFd mem(::open(("/proc/" + std::to_string(rec.pid()) + "/mem").c_str(), O_RDONLY));
  REQUIRE(mem.valid());
  uint8_t call[2] = {};
  REQUIRE(::pread(mem.get(), call, 2, static_cast<off_t>(result.pcs.back() - 2)) == 2);
  CHECK(call[0] == 0xff);
  CHECK(call[1] == 0xd2);
}

TEST_CASE("Falls back to frame pointers where no CFI covers a pc") {
  Recording rec("nocfi");
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());

  // Frame 3 returns into FpOnlyCallback: make sure the fixture really has no CFI there.
  REQUIRE(result.pcs.size() > 3);
  const Mapping* m = space.Find(result.pcs[3]);
  REQUIRE(m != nullptr);
  REQUIRE(m->elf != nullptr);
  Dwarf_Frame* frame = nullptr;
  CHECK(dwarf_cfi_addrframe(m->elf->eh_frame_cfi(), m->VaddrOf(result.pcs[3]) - 1, &frame) != 0);
  std::free(frame);

  SECTION("without a usable frame pointer the unwind stops with no CFI") {
    UserRegisters regs{result.pcs[3], rec.regs().sp, /*bp=*/0};
    UnwindResult bad = unwinder.Unwind(regs, rec.stack());
    CHECK(bad.end == UnwindEnd::kNoCfi);
    CHECK(bad.pcs.size() == 1);
  }
  SECTION("a zero return address read through a frame pointer is no complete stack") {
    // Code without CFI may keep anything in rbp (musl's assembly does): here it points at a zero
    // word where a frame pointer walk looks for the return address. Only CFI can say a frame is
    // the outermost.
    const StackCopy copy = rec.stack();
    size_t zero = 8;
    for (uint64_t word = 1; zero + 8 <= copy.bytes.size(); zero += 8) {
      std::memcpy(&word, &copy.bytes[zero], 8);
      if (word == 0) break;
    }
    REQUIRE(zero + 8 <= copy.bytes.size());
    UserRegisters regs{result.pcs[3], rec.regs().sp, /*bp=*/rec.regs().sp + zero - 8};
    UnwindResult bad = unwinder.Unwind(regs, copy);
    CHECK(bad.end == UnwindEnd::kNoCfi);
    CHECK(bad.pcs == std::vector<uint64_t>{result.pcs[3]});
  }
}

TEST_CASE("AddressSpace maps pcs to files, offsets and link-time addresses") {
  Recording rec("recurse");
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  REQUIRE(space.Refresh().ok());
  CHECK(space.main_executable() == std::filesystem::canonical(UNWIND_RECORDER).string());
  const Mapping* exe = space.Find(rec.regs().ip);
  REQUIRE(exe != nullptr);
  CHECK(exe->entry.path == space.main_executable());
  REQUIRE(exe->elf != nullptr);
  CHECK(exe->elf->is_position_independent());
  // In this PIE the text's file offsets equal its link-time addresses.
  CHECK(exe->VaddrOf(rec.regs().ip) == exe->FileOffsetOf(rec.regs().ip));
  CHECK(space.Find(0x10) == nullptr);
  bool has_vdso = false;
  for (const Mapping& m : space.mappings()) {
    CHECK(m.entry.executable);
    if (m.entry.path == "[vdso]") {
      has_vdso = true;
      CHECK(m.elf != nullptr);
      CHECK(m.elf->eh_frame_cfi() != nullptr);
    }
  }
  CHECK(has_vdso);
}

TEST_CASE("AddressSpace re-reads the maps on a miss, at most once per interval") {
  // A new executable mapping, as dlopen or a JIT would create.
  const size_t size = 4096;
  void* code = ::mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(code != MAP_FAILED);
  const auto address = reinterpret_cast<uint64_t>(code);
  ElfCache cache;

  AddressSpace limited(::getpid(), &cache, std::chrono::hours(1));
  REQUIRE(limited.Refresh().ok());
  ::munmap(code, size);
  code = ::mmap(code, size, PROT_READ | PROT_EXEC,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  REQUIRE(reinterpret_cast<uint64_t>(code) == address);
  CHECK(limited.Find(address) != nullptr);  // known from the first read

  void* later = ::mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(later != MAP_FAILED);
  const auto later_address = reinterpret_cast<uint64_t>(later);
  CHECK(limited.Find(later_address) == nullptr);  // rate-limited: no re-read yet

  AddressSpace eager(::getpid(), &cache, std::chrono::milliseconds(0));
  REQUIRE(eager.Refresh().ok());
  ::munmap(later, size);
  later = ::mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(later != MAP_FAILED);
  const Mapping* found = eager.Find(reinterpret_cast<uint64_t>(later));
  REQUIRE(found != nullptr);
  CHECK(found->entry.path.empty());
  CHECK(found->elf == nullptr);
  ::munmap(later, size);
  ::munmap(code, size);
}

}  // namespace
}  // namespace pprofd::symbolizer

// --- .eh_frame_hdr missing or corrupt (issue 13): unwinding scans .eh_frame, or ends in the
// no-CFI marker; never a wrong frame.

namespace pprofd::symbolizer {
namespace {

// A copy of the recorder (in a fresh directory, removed with it) whose .eh_frame_hdr is damaged
// by `damage`, which gets the header's bytes.
class DamagedRecorder {
 public:
  template <typename Damage>
  DamagedRecorder(const std::string& from, Damage damage) {
    char dir_template[] = "/tmp/unwind-damaged-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/recorder";
    std::filesystem::copy_file(from, path_);
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
    ScopedFd fd(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(fd.valid());
    elf_version(EV_CURRENT);
    Elf* elf = elf_begin(fd.get(), ELF_C_READ, nullptr);
    REQUIRE(elf != nullptr);
    size_t shstrndx = 0;
    REQUIRE(elf_getshdrstrndx(elf, &shstrndx) == 0);
    uint64_t offset = 0;
    uint64_t size = 0;
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf, scn)) != nullptr;) {
      GElf_Shdr shdr;
      REQUIRE(gelf_getshdr(scn, &shdr) != nullptr);
      if (std::string(elf_strptr(elf, shstrndx, shdr.sh_name)) == ".eh_frame_hdr") {
        offset = shdr.sh_offset;
        size = shdr.sh_size;
      }
    }
    elf_end(elf);
    REQUIRE(size > 12);
    std::vector<uint8_t> header(size);
    REQUIRE(::pread(fd.get(), header.data(), size, static_cast<off_t>(offset)) ==
            static_cast<ssize_t>(size));
    damage(header);
    REQUIRE(::pwrite(fd.get(), header.data(), size, static_cast<off_t>(offset)) ==
            static_cast<ssize_t>(size));
  }
  ~DamagedRecorder() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// The 4-byte little-endian word at `at`.
void PutWord(std::vector<uint8_t>& bytes, size_t at, uint32_t word) {
  std::memcpy(&bytes[at], &word, 4);
}

}  // namespace

TEST_CASE("Unwinds through a corrupt .eh_frame_hdr by scanning .eh_frame", "[hostile]") {
  // The header: version, three encodings, eh_frame_ptr (4 bytes), fde_count (4), then the table
  // of (initial location, FDE address) pairs, 8 bytes each.
  SECTION("the table's entries zeroed") {
    DamagedRecorder damaged(UNWIND_RECORDER, [](std::vector<uint8_t>& header) {
      std::fill(header.begin() + 12, header.end(), 0);
    });
    Recording rec("recurse", damaged.path());
    ElfCache cache;
    AddressSpace space(rec.pid(), &cache);
    Unwinder unwinder(&space);
    UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
    CheckAgainstExpected(space, result, rec.expected());
    CHECK(result.pcs.size() == 12);
  }
  SECTION("the table's entries shifted: each names the next function's FDE") {
    DamagedRecorder damaged(UNWIND_RECORDER, [](std::vector<uint8_t>& header) {
      for (size_t at = 12; at + 16 <= header.size(); at += 8) {
        std::memcpy(&header[at + 4], &header[at + 12], 4);
      }
    });
    Recording rec("recurse", damaged.path());
    ElfCache cache;
    AddressSpace space(rec.pid(), &cache);
    Unwinder unwinder(&space);
    UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
    CheckAgainstExpected(space, result, rec.expected());
    CHECK(result.pcs.size() == 12);
  }
  SECTION("a count far beyond the section") {
    DamagedRecorder damaged(UNWIND_RECORDER,
                            [](std::vector<uint8_t>& header) { PutWord(header, 8, 0x7fffffff); });
    Recording rec("recurse", damaged.path());
    ElfCache cache;
    AddressSpace space(rec.pid(), &cache);
    Unwinder unwinder(&space);
    UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
    CheckAgainstExpected(space, result, rec.expected());
    CHECK(result.pcs.size() == 12);
  }
  SECTION("an unknown table encoding") {
    DamagedRecorder damaged(UNWIND_RECORDER, [](std::vector<uint8_t>& header) {
      header[3] = 0x0f;  // DW_EH_PE_* value that does not exist
    });
    Recording rec("recurse", damaged.path());
    ElfCache cache;
    AddressSpace space(rec.pid(), &cache);
    Unwinder unwinder(&space);
    UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
    CheckAgainstExpected(space, result, rec.expected());
    CHECK(result.pcs.size() == 12);
  }
}

TEST_CASE("Unwinds a program linked without .eh_frame_hdr", "[hostile]") {
  Recording rec("recurse", UNWIND_RECORDER_NO_HDR);
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());
  CHECK(result.pcs.size() == 12);
}

TEST_CASE("Where neither the header nor .eh_frame covers a pc the stack ends in no CFI",
          "[hostile]") {
  // The nocfi recorder's FpOnlyCallback has no FDE at all: with the header's table zeroed, the
  // scan must not find one either, and the frame-pointer fallback goes on as with the intact
  // file.
  DamagedRecorder damaged(UNWIND_RECORDER, [](std::vector<uint8_t>& header) {
    std::fill(header.begin() + 12, header.end(), 0);
  });
  Recording rec("nocfi", damaged.path());
  ElfCache cache;
  AddressSpace space(rec.pid(), &cache);
  Unwinder unwinder(&space);
  UnwindResult result = unwinder.Unwind(rec.regs(), rec.stack());
  CheckAgainstExpected(space, result, rec.expected());
  REQUIRE(result.pcs.size() > 3);
  UserRegisters regs{result.pcs[3], rec.regs().sp, /*bp=*/0};
  UnwindResult bad = unwinder.Unwind(regs, rec.stack());
  CHECK(bad.end == UnwindEnd::kNoCfi);
  CHECK(bad.pcs.size() == 1);
}

}  // namespace pprofd::symbolizer
