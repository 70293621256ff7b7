// A target controls the files pprofd opens for it. These tests put what a hostile target can put
// in a mapped file's place (a FIFO, a device) and check that opening it neither blocks nor reads
// it: pprofd refuses it at once with one line naming it.
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>

#include "symbolizer/elf_cache.h"
#include "symbolizer/elf_util.h"
#include "tests/symbolizer/symbolizer_test_util.h"

namespace pprofd::symbolizer {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

fs::path MakeTempDir() {
  char pattern[] = "/tmp/pprofd-hostile-files-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  return pattern;
}

// Runs `open` (which should refuse `fifo` at once) with a watchdog: if it blocks, a writer opens
// the FIFO so the call returns and the test fails instead of hanging.
template <typename Fn>
std::string ErrorWithin(const fs::path& fifo, Fn open) {
  auto result = std::async(std::launch::async, open);
  if (result.wait_for(seconds(2)) == std::future_status::timeout) {
    int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    result.wait();
    if (writer >= 0) ::close(writer);
    FAIL("opening " << fifo << " blocked (a FIFO in place of a mapped file)");
  }
  return result.get();
}

TEST_CASE("A FIFO in place of a mapped ELF file is refused without blocking", "[hostile]") {
  const fs::path dir = MakeTempDir();
  const fs::path fifo = dir / "libvictim.so";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);

  SECTION("OpenElf") {
    std::string error = ErrorWithin(fifo, [&] {
      auto opened = OpenElf(fifo.string());
      return opened.ok() ? std::string() : opened.status().message();
    });
    CHECK(error == fifo.string() + ": a FIFO, not a regular file");
  }
  SECTION("ElfCache::Get, as the address space opens a mapped file") {
    ElfCache cache;
    std::string error = ErrorWithin(fifo, [&] {
      auto file = cache.Get(fifo.string(), "");
      return file.ok() ? std::string() : file.status().message();
    });
    CHECK(error == fifo.string() + ": a FIFO, not a regular file");
    CHECK(cache.open_files() == 0);
  }
  fs::remove_all(dir);
}

TEST_CASE("A device in place of a mapped ELF file is refused, not read", "[hostile]") {
  // /dev/zero would be read (or mapped) forever as an endless ELF file; a tty would be made the
  // controlling terminal of the agent.
  for (const char* device : {"/dev/zero", "/dev/null", "/dev/tty"}) {
    if (!fs::exists(device)) continue;
    ElfCache cache;
    auto file = cache.Get(device, "");
    REQUIRE_FALSE(file.ok());
    CHECK(file.status().message() ==
          std::string(device) + ": a character device, not a regular file");
  }
}

TEST_CASE("A file truncated after it was opened does not kill the reader (SIGBUS)", "[hostile]") {
  // The target can truncate a file of its own that pprofd has opened (a library it loaded, its
  // executable, a debug file). A reader that maps the file gets SIGBUS on its next read of a page
  // past the new end. The read runs in a child process so that the test reports the signal.
  const fs::path dir = MakeTempDir();
  const fs::path copy = dir / "sym_fixture_pie_g";
  fs::copy_file(testing::FixturePath("sym_fixture_pie_g"), copy);
  // Small files are copied whole when opened; a file past 64 MiB is read as needed, so the
  // truncation comes before most of its reads.
  const bool large = GENERATE(false, true);
  INFO((large ? "a file padded to 65 MiB (read as needed)" : "a small file (copied whole)"));
  if (large) fs::resize_file(copy, uint64_t{65} << 20);
  const uint64_t function = testing::SymbolAddress(copy.string(), "c_linkage_function");

  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ElfCache cache;
    auto file = cache.Get(copy.string(), "");
    if (!file.ok()) {
      std::fprintf(stderr, "%s\n", file.status().message().c_str());
      ::_exit(10);
    }
    // What unwinding reads when a sample arrives: the CFI.
    Dwarf_Frame* frame = nullptr;
    if ((*file)->eh_frame_cfi() != nullptr &&
        dwarf_cfi_addrframe((*file)->eh_frame_cfi(), function, &frame) == 0) {
      std::free(frame);
    }
    if (::truncate(copy.c_str(), 0) != 0) ::_exit(11);
    // What naming the sample reads later: symbols and DWARF, from the truncated file. A name, if
    // any, must be the right one.
    std::vector<SourceFrame> frames = (*file)->Symbolize(function);
    if (!frames.empty() && frames.back().function != "c_linkage_function") ::_exit(12);
    frames = (*file)->Symbolize(function + 1);
    if (!frames.empty() && frames.back().function != "c_linkage_function") ::_exit(12);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("child " << (WIFSIGNALED(status) ? "killed by signal " : "exited with ")
                << (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pprofd::symbolizer
