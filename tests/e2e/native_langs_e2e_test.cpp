// Native languages beyond GCC-built C++: C++ linked by lld and Rust (legacy and v0 symbol
// mangling, linked by lld as every Rust >= 1.90 binary is). lld places the executable segment one
// page above its file offset (p_vaddr != p_offset), where pprofd once named every function after
// the one 0x1000 lower. Each profile is checked location by location against llvm-symbolizer at
// the ELF virtual address (computed from readelf, not from pprofd's code), beside perf
// --call-graph dwarf on the same process in the same window, and shown in pprof's source views.
//
// The reference is llvm-symbolizer, not addr2line: on these binaries elfutils' eu-addr2line 0.188
// prints "??:0" for everything clang built (it finds compile units only through .debug_aranges,
// which clang does not emit by default: with -gdwarf-aranges it answers), and binutils'
// addr2line 2.40 drops inline frames whose ranges clang gives as DW_FORM_rnglistx (zoo::Mix inside
// zoo::Hash) and names the innermost frame of a GCC inline chain after the enclosing symbol.
// llvm-symbolizer reads all of them as the DWARF says, and names frames as pprof's source view
// expects: the symbol table's name for the outermost frame, the DWARF linkage name for inline ones.
// addr2line -C still checks the demangled name of every outermost frame.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/e2e/harness/addr2line_reference.h"
#include "tests/e2e/harness/agent_harness.h"
#include "tests/e2e/harness/perf_reference.h"

namespace pprofd::e2e {
namespace {

constexpr int kSeconds = 5;

// A fixture missing because its compiler was: a failure under CI, a warning elsewhere (the
// machine may lack rustc; CMake said which package provides it).
bool FixtureBuilt(const std::string& path, const std::string& package) {
  if (access(path.c_str(), X_OK) == 0) return true;
  const char* ci = std::getenv("CI");
  const std::string message =
      path + " was not built: install " + package + " and re-run cmake (see its warning)";
  if (ci != nullptr && std::string(ci) == "true") FAIL(message);
  WARN(message);
  return false;
}

// --- The ELF layout --------------------------------------------------------------------------

// lld's layout: the executable segment's address is not its file offset.
void CheckLldLayout(const std::string& binary) {
  std::vector<ElfLoadSegment> segments = ReadLoadSegments(binary);
  auto code = std::find_if(segments.begin(), segments.end(),
                           [](const ElfLoadSegment& s) { return s.executable; });
  REQUIRE(code != segments.end());
  INFO(binary << ": R E segment at offset 0x" << std::hex << code->offset << ", vaddr 0x"
              << code->vaddr);
  CHECK(code->vaddr != code->offset);
}

// --- The profile, beside perf ---------------------------------------------------------------

struct Capture {
  std::string path;  // the profile as pprofd served it
  std::string raw;   // `go tool pprof -raw` of it
  RawProfile profile;
  // System names per location id, innermost first (pprof -raw prints a system name only when it
  // differs from the name; the shared reader keeps names only).
  std::map<int, std::vector<std::string>> system_names;
  PerfRecording perf;
};

// "name file:line s=N(system name)" -> "system name"; "name file:line s=N" -> "name".
std::string SystemNameOf(const std::string& text, const std::string& name) {
  static const std::regex kWithSystemName(R"( s=\d+\((.*)\)$)");
  std::smatch m;
  if (std::regex_search(text, m, kWithSystemName)) return m[1].str();
  return name;
}

std::map<int, std::vector<std::string>> ParseSystemNames(const std::string& raw,
                                                         const RawProfile& profile) {
  static const std::regex kLocation(R"(^\s*(\d+): 0x[0-9a-f]+ M=\d+\s?(.*)$)");
  std::map<int, std::vector<std::string>> names;
  std::istringstream lines(raw);
  bool in_locations = false;
  int id = -1;
  for (std::string line; std::getline(lines, line);) {
    if (line == "Locations") in_locations = true;
    if (line == "Mappings") in_locations = false;
    if (!in_locations) continue;
    std::smatch m;
    std::string function_text;
    if (std::regex_match(line, m, kLocation)) {
      id = std::stoi(m[1].str());
      function_text = m[2].str();
    } else if (id >= 0 && line.find_first_not_of(' ') != std::string::npos) {
      function_text = line.substr(line.find_first_not_of(' '));
    }
    if (function_text.empty()) continue;
    auto location = profile.locations.find(id);
    if (location == profile.locations.end()) continue;
    size_t index = names[id].size();
    if (index >= location->second.lines.size()) continue;
    names[id].push_back(SystemNameOf(function_text, location->second.lines[index].function));
  }
  return names;
}

// A CPU profile of `pid` saved as pprofd served it, and perf's recording of the same window.
void CaptureBesidePerf(const Agent& agent, pid_t pid, Capture* capture) {
  capture->path = TempDir() + "/profile.pb.gz";
  std::thread perf_thread([&] { capture->perf = RecordWithPerf(pid, kSeconds); });
  CommandResult fetched =
      RunCommand({"curl", "-s", "-f", "--max-time", "120", "-o", capture->path,
                  agent.Url("/debug/pprof/profile?seconds=" + std::to_string(kSeconds))});
  perf_thread.join();
  INFO("curl: " << fetched.err << "; perf: " << capture->perf.error);
  REQUIRE(fetched.exit_code == 0);
  REQUIRE(capture->perf.ok);
  CommandResult raw = GoPprof({"-raw"}, capture->path);
  REQUIRE(raw.exit_code == 0);
  capture->raw = raw.out;
  std::string error;
  INFO(error);
  REQUIRE(ParseRaw(raw.out, &capture->profile, &error));
  capture->system_names = ParseSystemNames(raw.out, capture->profile);
  CHECK(capture->profile.TotalCount() > 100);
}

// --- The references -------------------------------------------------------------------------

struct RefFrame {
  std::string name;  // mangled, as the symbol table or DWARF linkage name has it
  std::string file;  // "" when unknown ("??")
  int64_t line = 0;
};

// "file:line" or "file:line (discriminator N)"; "??:0" when unknown.
void ParseWhere(std::string where, RefFrame* frame) {
  if (size_t paren = where.find(" ("); paren != std::string::npos) where.resize(paren);
  size_t colon = where.rfind(':');
  frame->file = colon == std::string::npos ? where : where.substr(0, colon);
  if (frame->file == "??") frame->file.clear();
  if (colon != std::string::npos) frame->line = std::atoll(where.c_str() + colon + 1);
}

// `llvm-symbolizer --inlining --no-demangle` at each of `vaddrs`: inline chains, innermost first.
std::vector<std::vector<RefFrame>> LlvmSymbolize(const std::string& file,
                                                 const std::vector<uint64_t>& vaddrs) {
  std::vector<std::string> argv = {"llvm-symbolizer", "--obj=" + file,      "--inlining",
                                   "--no-demangle",   "--output-style=GNU", "-a"};
  for (uint64_t vaddr : vaddrs) {
    std::ostringstream hex;
    hex << "0x" << std::hex << vaddr;
    argv.push_back(hex.str());
  }
  CommandResult result = RunCommand(argv);
  INFO("llvm-symbolizer: " << result.err);
  REQUIRE(result.exit_code == 0);
  std::vector<std::vector<RefFrame>> chains;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line.rfind("0x", 0) == 0) {
      chains.emplace_back();
      continue;
    }
    if (chains.empty()) continue;
    RefFrame frame;
    frame.name = line;
    std::string where;
    if (!std::getline(lines, where)) break;
    ParseWhere(where, &frame);
    chains.back().push_back(std::move(frame));
  }
  REQUIRE(chains.size() == vaddrs.size());
  return chains;
}

// `c++filt -i` (demangled without implementation details: no Rust hash) of each name.
std::map<std::string, std::string> CxxFilt(const std::vector<std::string>& names) {
  std::map<std::string, std::string> demangled;
  std::vector<std::string> argv = {"c++filt", "-i"};
  argv.insert(argv.end(), names.begin(), names.end());
  CommandResult result = RunCommand(argv);
  REQUIRE(result.exit_code == 0);
  std::istringstream lines(result.out);
  for (const std::string& name : names) {
    std::string line;
    std::getline(lines, line);
    demangled[name] = line;
  }
  return demangled;
}

// Every location of `binary` in the profile, frame by frame, against llvm-symbolizer (system
// names, files, lines, inline chains), c++filt (names) and addr2line -C (outermost names).
void CheckAgainstReferences(const Capture& capture, const std::string& binary) {
  int mapping_id = 0;
  for (const auto& [id, mapping] : capture.profile.mappings) {
    if (mapping.file == binary) mapping_id = id;
  }
  REQUIRE(mapping_id != 0);
  const RawMapping& mapping = capture.profile.mappings.at(mapping_id);
  CHECK(mapping.flags == "[FN][FL][LN][IN]");

  std::vector<int> ids;
  std::vector<uint64_t> vaddrs;
  for (const auto& [id, location] : capture.profile.locations) {
    if (location.mapping != mapping_id) continue;
    std::optional<uint64_t> vaddr = ElfVaddrOf(mapping, location.address);
    INFO("location " << id << " at 0x" << std::hex << location.address);
    REQUIRE(vaddr.has_value());
    ids.push_back(id);
    vaddrs.push_back(*vaddr);
  }
  REQUIRE(ids.size() >= 10);
  const auto reference = LlvmSymbolize(binary, vaddrs);
  std::string error;
  const auto addr2line = Addr2Line(binary, vaddrs, /*demangle=*/true, &error);
  INFO(error);
  REQUIRE(addr2line.size() == vaddrs.size());
  std::vector<std::string> mangled;
  for (const auto& chain : reference) {
    for (const RefFrame& frame : chain) mangled.push_back(frame.name);
  }
  std::sort(mangled.begin(), mangled.end());
  mangled.erase(std::unique(mangled.begin(), mangled.end()), mangled.end());
  const auto demangled = CxxFilt(mangled);

  int frames = 0;
  std::vector<std::string> differences;
  auto differ = [&](size_t i, const std::string& what) {
    std::ostringstream text;
    text << "0x" << std::hex << vaddrs[i] << std::dec << ": " << what;
    differences.push_back(text.str());
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    const RawLocation& location = capture.profile.locations.at(ids[i]);
    const std::vector<std::string>& systems = capture.system_names.at(ids[i]);
    const std::vector<RefFrame>& expected = reference[i];
    if (location.lines.size() != expected.size()) {
      differ(i, "pprofd has " + std::to_string(location.lines.size()) +
                    " frames, llvm-symbolizer " + std::to_string(expected.size()) + " (innermost " +
                    expected.front().name + ")");
      continue;
    }
    for (size_t f = 0; f < expected.size(); ++f) {
      ++frames;
      const RawLine& line = location.lines[f];
      if (systems[f] != expected[f].name) {
        differ(i, "system name " + systems[f] + ", llvm-symbolizer " + expected[f].name);
      }
      if (line.function != demangled.at(expected[f].name)) {
        differ(i, "name " + line.function + ", c++filt " + demangled.at(expected[f].name));
      }
      if (line.file != expected[f].file || line.line != expected[f].line) {
        differ(i, line.function + " at " + line.file + ":" + std::to_string(line.line) +
                      ", llvm-symbolizer " + expected[f].file + ":" +
                      std::to_string(expected[f].line));
      }
    }
    if (!addr2line[i].empty() && location.lines.back().function != addr2line[i].back().function) {
      differ(i, "outermost " + location.lines.back().function + ", addr2line -C " +
                    addr2line[i].back().function);
    }
  }
  std::string examples;
  for (size_t i = 0; i < differences.size() && i < 8; ++i) examples += "\n  " + differences[i];
  INFO(binary << ": " << ids.size() << " locations, " << frames << " frames, " << differences.size()
              << " differences" << examples);
  CHECK(differences.empty());
}

// --- Stack completeness ---------------------------------------------------------------------

// Share (0-100) of samples whose stack does not end in an "[unwind: ...]" marker.
double UnmarkedPercent(const RawProfile& profile) {
  int64_t complete = 0;
  for (const auto& sample : profile.samples) {
    std::vector<std::string> names = profile.Functions(sample);
    if (!names.empty() && names.back().rfind("[unwind", 0) != 0) complete += sample.values[0];
  }
  return 100.0 * static_cast<double>(complete) / static_cast<double>(profile.TotalCount());
}

void CheckCompleteAsPerf(const Capture& capture) {
  const double pprofd_root = RootReachedPercent(capture.profile);
  const double perf_root = RootReachedPercent(capture.perf);
  const double unmarked = UnmarkedPercent(capture.profile);
  INFO("stacks reaching _start: pprofd "
       << pprofd_root << "% of " << capture.profile.TotalCount()
       << " samples, perf --call-graph dwarf " << perf_root << "% of " << capture.perf.stacks.size()
       << "; pprofd without an unwind marker " << unmarked << "%");
  // Two samplings of the same window: one sample is 0.2% of either.
  CHECK(pprofd_root >= perf_root - 0.5);
  CHECK(unmarked >= perf_root - 0.5);
}

// --- Names ----------------------------------------------------------------------------------

bool AnyLocationNamed(const RawProfile& profile, const std::string& name) {
  for (const auto& [id, location] : profile.locations) {
    for (const RawLine& line : location.lines) {
      if (line.function == name) return true;
    }
  }
  return false;
}

// Mangling left in a displayed name: a Rust hash, escapes, crate disambiguators, LLVM suffixes.
void CheckNoManglingLeft(const RawProfile& profile) {
  static const std::regex kLeftover(
      R"(::h[0-9a-f]{16}|\$(LT|GT|u20|C|RF)\$|^_[ZR]|\[[0-9a-f]{16}\]|\.llvm\.)");
  for (const auto& [id, location] : profile.locations) {
    for (const RawLine& line : location.lines) {
      INFO(line.function);
      CHECK_FALSE(std::regex_search(line.function, kLeftover));
    }
  }
}

int LineOf(const std::string& path, const std::string& marker) {
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find(marker) != std::string::npos) return number;
  }
  return -1;
}

const std::string kZooSource =
    std::string(PPROFD_SOURCE_DIR) + "/tests/fixtures/native_langs/lld_zoo.cpp";

struct Profiled {
  std::unique_ptr<Subprocess> workload;
  std::unique_ptr<Agent> agent;
  Capture capture;
};

// Runs `binary`, profiles it beside perf.
void Profile(const std::string& binary, Profiled* run) {
  run->workload = std::make_unique<Subprocess>(std::vector<std::string>{binary, "120"});
  REQUIRE(WaitForReady(*run->workload));
  run->agent = std::make_unique<Agent>(run->workload->pid());
  REQUIRE(run->agent->listening());
  CaptureBesidePerf(*run->agent, run->workload->pid(), &run->capture);
}

}  // namespace

TEST_CASE("C++ linked by lld: every frame as llvm-symbolizer says and stacks as complete as perf's",
          "[native_langs]") {
  const std::string binary = FixturePath("native_langs/lld_zoo");
  if (!FixtureBuilt(binary, "clang and lld")) return;
  CheckLldLayout(binary);
  Profiled run;
  Profile(binary, &run);
  const RawProfile& profile = run.capture.profile;
  CheckAgainstReferences(run.capture, binary);
  CheckCompleteAsPerf(run.capture);

  for (const char* name :
       {"(anonymous namespace)::Collatz(unsigned long)", "SumOfSquares(int)",
        "zoo::Grid<double>::Relax()",
        "zoo::Checksum(std::vector<unsigned char, std::allocator<unsigned char> > const&)",
        "zoo::Sort(std::vector<unsigned long, std::allocator<unsigned long> >&, unsigned "
        "long)::$_0::operator()(unsigned long, unsigned long) const"}) {
    INFO(name);
    CHECK(AnyLocationNamed(profile, name));
  }
  // zoo::Mix inlined into zoo::Hash, at the lines of its body and of the call.
  const int body = LineOf(kZooSource, "MARKER: Mix body");
  const int call = LineOf(kZooSource, "MARKER: Mix call");
  bool found_inline = false;
  for (const auto& [id, location] : profile.locations) {
    if (location.lines.size() != 2 || location.lines[0].function != "zoo::Mix(unsigned long)") {
      continue;
    }
    found_inline = true;
    CHECK(location.lines[1].function == "zoo::Hash(unsigned long, int)");
    CHECK(location.lines[0].file == kZooSource);
    CHECK(location.lines[0].line >= body);
    CHECK(location.lines[0].line <= body + 2);
    CHECK(location.lines[1].line == call);
  }
  CHECK(found_inline);
}

TEST_CASE(
    "Rust legacy mangling linked by lld: every frame as llvm-symbolizer says without hashes and "
    "stacks as complete as perf's",
    "[native_langs]") {
  const std::string binary = FixturePath("native_langs/rustzoo");
  if (!FixtureBuilt(binary, "rustc")) return;
  CheckLldLayout(binary);
  Profiled run;
  Profile(binary, &run);
  const RawProfile& profile = run.capture.profile;
  CheckAgainstReferences(run.capture, binary);
  CheckCompleteAsPerf(run.capture);
  CheckNoManglingLeft(profile);
  for (const char* name : {"rustzoo::hash_mix", "rustzoo::sieve", "rustzoo::Matrix<T>::mul",
                           "<rustzoo::Crc32 as rustzoo::Checksum>::update", "rustzoo::main"}) {
    INFO(name);
    CHECK(AnyLocationNamed(profile, name));
  }
  CHECK(SharePercent(profile, "rustzoo::hash_mix") > 5);
  CHECK(SharePercent(profile, "rustzoo::main") > 90);
}

TEST_CASE(
    "Rust v0 mangling linked by lld: every frame as llvm-symbolizer says as rustfilt names it and "
    "stacks as complete as perf's",
    "[native_langs]") {
  const std::string binary = FixturePath("native_langs/rustzoo_v0");
  if (!FixtureBuilt(binary, "rustc")) return;
  CheckLldLayout(binary);
  Profiled run;
  Profile(binary, &run);
  const RawProfile& profile = run.capture.profile;
  CheckAgainstReferences(run.capture, binary);
  CheckCompleteAsPerf(run.capture);
  CheckNoManglingLeft(profile);
  for (const char* name : {"rustzoo::hash_mix", "rustzoo::sieve", "<rustzoo::Matrix<f64>>::mul",
                           "<rustzoo::Matrix<u64>>::mul",
                           "<rustzoo::Crc32 as rustzoo::Checksum>::update", "rustzoo::main"}) {
    INFO(name);
    CHECK(AnyLocationNamed(profile, name));
  }
  // v0 names are in the symbol table, and are the system names pprof matches binaries with.
  bool v0_system_name = false;
  for (const auto& [id, names] : run.capture.system_names) {
    for (const std::string& name : names) v0_system_name |= name.rfind("_RNv", 0) == 0;
  }
  CHECK(v0_system_name);
}

TEST_CASE("go tool pprof's source views show the source of a pprofd profile", "[native_langs]") {
  const std::string lld_zoo = FixturePath("native_langs/lld_zoo");
  if (!FixtureBuilt(lld_zoo, "clang and lld")) return;
  const std::string collatz_loop = "for (uint64_t n = start; n != 1;";

  // A copy of the workload that can be deleted once profiled, as a binary is absent where a
  // profile fetched from a server is read.
  const std::string copy = TempDir() + "/lld_zoo";
  std::filesystem::copy_file(lld_zoo, copy);
  Profiled run;
  Profile(copy, &run);
  const std::string& profile = run.capture.path;

  // `go tool pprof -list` reads the source files the profile names.
  CommandResult list = GoPprof({"-list", "Collatz"}, profile);
  INFO(list.out << list.err);
  CHECK(list.out.find("ROUTINE ======================== (anonymous namespace)::Collatz(unsigned "
                      "long) in " +
                      kZooSource) != std::string::npos);
  CHECK(list.out.find(collatz_loop) != std::string::npos);

  // `go tool pprof -weblist` (the -http Source view) with the binary gone: from the profile's
  // own functions, lines and inline frames. (With the binary present it stays blank for any PIE:
  // Go's pprof cannot disassemble one, golang/go#46639.)
  run.workload.reset();
  std::filesystem::remove(copy);
  const std::string html = TempDir() + "/weblist.html";
  CommandResult weblist = GoPprof({"-weblist", "Collatz", "-output", html}, profile);
  INFO(weblist.err);
  REQUIRE(weblist.exit_code == 0);
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(page.find("Collatz(uint64_t limit)") != std::string::npos);
  CHECK(page.find(collatz_loop) != std::string::npos);
}

TEST_CASE("github.com/google/pprof's source view matches the profile's system names to the binary",
          "[native_langs]") {
  // That pprof reads a binary present at the profile's path with llvm-symbolizer (or addr2line)
  // and objdump, and shows the functions whose names the binary reports as the profile's system
  // names. GCC's static functions have no DWARF linkage name: their system name must still be the
  // symbol's (_ZN12_GLOBAL__N_17CollatzEm.constprop.0), not the bare DWARF name "Collatz", or the
  // view is blank. The workload is the GNU ld build: Debian's pprof (a 2021 snapshot) shows
  // nothing for the functions in the first page of lld's executable segment (lld_zoo's zoo::Hash
  // and zoo::Checksum) though its -disasm shows them, its own misreading of that layout.
  const std::string upstream_pprof = FixturePath("native_langs/upstream_pprof");
  if (!FixtureBuilt(upstream_pprof, "golang-github-google-pprof-dev")) return;
  Profiled run;
  Profile(FixturePath("native_langs/gcc_zoo"), &run);
  for (const char* function : {"Collatz", "SumOfSquares", "Checksum", "Hash"}) {
    const std::string out = TempDir() + "/upstream.html";
    CommandResult result = RunCommand({"env", "HOME=" + TempDir(), upstream_pprof, "-weblist",
                                       function, "-output", out, run.capture.path});
    INFO(function << ": " << result.err);
    REQUIRE(result.exit_code == 0);
    std::ifstream in(out);
    const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Disassembly annotated with its source lines appears only for matched functions.
    CHECK(page.find("lld_zoo.cpp:") != std::string::npos);
    CHECK(page.find(std::string(function) + "(") != std::string::npos);
  }
}

}  // namespace pprofd::e2e
