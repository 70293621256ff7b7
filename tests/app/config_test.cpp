#include "agent/app/config.h"

#include <catch2/catch.hpp>

namespace pprofd {
namespace {

StatusOr<Config> Parse(std::vector<std::string> args) { return ParseCommandLine(args); }

std::string ErrorOf(std::vector<std::string> args) {
  StatusOr<Config> config = Parse(std::move(args));
  REQUIRE_FALSE(config.ok());
  return config.status().message();
}

TEST_CASE("Defaults without flags", "[config]") {
  StatusOr<Config> config = Parse({});
  REQUIRE(config.ok());
  CHECK(config->pid == 0);
  CHECK(config->listen == "127.0.0.1:6060");
  CHECK(config->hz == 99);
  CHECK(config->max_hz == 1000);
  CHECK(config->max_seconds == 600);
  CHECK(config->stack_bytes == 16384);
  CHECK(config->btf_path == "/sys/kernel/btf/vmlinux");
}

TEST_CASE("Every flag, as --flag value and --flag=value", "[config]") {
  StatusOr<Config> config =
      Parse({"--pid", "42", "--listen=[::1]:7070", "--hz", "250", "--max-hz=500", "--max-seconds",
             "60", "--stack-bytes=65536", "--log-level", "debug", "--btf", "/tmp/vmlinux.btf"});
  REQUIRE(config.ok());
  CHECK(config->pid == 42);
  CHECK(config->listen == "[::1]:7070");
  CHECK(config->hz == 250);
  CHECK(config->max_hz == 500);
  CHECK(config->max_seconds == 60);
  CHECK(config->stack_bytes == 65536);
  CHECK(config->log_level == "debug");
  CHECK(config->btf_path == "/tmp/vmlinux.btf");
}

TEST_CASE("Help and version", "[config]") {
  CHECK(Parse({"--help"})->help);
  CHECK(Parse({"-h"})->help);
  CHECK(Parse({"--version"})->version);
  CHECK(UsageText().find("--btf PATH") != std::string::npos);
}

TEST_CASE(
    "The freeze-prone kernel override (--allow-freeze-prone-kernel) is off by default, a switch "
    "without a value",
    "[config]") {
  CHECK_FALSE(Parse({})->allow_freeze_prone_kernel);
  CHECK(Parse({"--allow-freeze-prone-kernel"})->allow_freeze_prone_kernel);
  CHECK(ErrorOf({"--allow-freeze-prone-kernel=yes"}) ==
        "unknown option '--allow-freeze-prone-kernel=yes': see pprofd --help");
  CHECK(UsageText().find("--allow-freeze-prone-kernel") != std::string::npos);
}

TEST_CASE("Bad numbers name the flag and the valid range", "[config]") {
  CHECK(ErrorOf({"--pid", "abc"}) == "bad --pid 'abc': want an integer from 1 to 4194304");
  CHECK(ErrorOf({"--pid", "0"}) == "bad --pid '0': want an integer from 1 to 4194304");
  CHECK(ErrorOf({"--pid", "-5"}) == "bad --pid '-5': want an integer from 1 to 4194304");
  CHECK(ErrorOf({"--pid", "12x"}) == "bad --pid '12x': want an integer from 1 to 4194304");
  CHECK(ErrorOf({"--pid="}) == "bad --pid '': want an integer from 1 to 4194304");
  CHECK(ErrorOf({"--hz", "0"}) == "bad --hz '0': want an integer from 1 to 10000");
  CHECK(ErrorOf({"--max-seconds", "99999999999999999999"}) ==
        "bad --max-seconds '99999999999999999999': want an integer from 1 to 86400");
  CHECK(ErrorOf({"--stack-bytes", "5000"}) ==
        "bad --stack-bytes '5000': want a multiple of 4096 up to 65536");
  CHECK(ErrorOf({"--stack-bytes", "131072"}) ==
        "bad --stack-bytes '131072': want an integer from 4096 to 65536");
}

TEST_CASE("Inconsistent rates", "[config]") {
  CHECK(ErrorOf({"--hz", "500", "--max-hz", "100"}) ==
        "--hz 500 is above --max-hz 100: lower --hz or raise --max-hz");
}

TEST_CASE("Bad --listen is a command-line error", "[config]") {
  CHECK(ErrorOf({"--listen", ""}).starts_with("bad --listen '': "));
  CHECK(ErrorOf({"--listen", "6060"}) ==
        "bad --listen '6060': expected HOST:PORT, e.g. 127.0.0.1:6060");
  CHECK(ErrorOf({"--listen", "127.0.0.1:99999"}) ==
        "bad --listen '127.0.0.1:99999': port '99999' is not a number from 0 to 65535");
  CHECK(ErrorOf({"--listen", "example.com:80"}).starts_with("bad --listen 'example.com:80': host"));
  CHECK(Parse({"--listen", ":6060"}).ok());
  CHECK(Parse({"--listen", "localhost:0"}).ok());
}

TEST_CASE("Unknown flags, missing values, stray arguments", "[config]") {
  CHECK(ErrorOf({"--frequency", "9"}) == "unknown option '--frequency': see pprofd --help");
  CHECK(ErrorOf({"--pid"}) == "--pid needs a value: see pprofd --help");
  CHECK(ErrorOf({"--btf"}) == "--btf needs a value: see pprofd --help");
  CHECK(ErrorOf({"--btf="}) == "bad --btf '': want the path of the kernel's BTF file");
  CHECK(ErrorOf({"1234"}) ==
        "unexpected argument '1234': pass the process to profile as --pid PID");
  CHECK(ErrorOf({"--log-level", "loud"}) ==
        "bad --log-level 'loud': want debug, info, warning or error");
}

TEST_CASE("Every error is one line", "[config]") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--pid", "x"}, {"--listen", "::"}, {"--nope"}, {"--hz", "99999"}, {"x"}}) {
    StatusOr<Config> config = Parse(args);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().message().find('\n') == std::string::npos);
  }
}

}  // namespace
}  // namespace pprofd

namespace pprofd {
namespace {

TEST_CASE("Heap flags", "[config]") {
  StatusOr<Config> defaults = ParseCommandLine({});
  REQUIRE(defaults.ok());
  CHECK_FALSE(defaults->heap);
  CHECK(defaults->heap_rate == 524288);
  CHECK(defaults->heap_max_live == 65536);

  StatusOr<Config> config =
      ParseCommandLine({"--heap", "--heap-rate", "1", "--heap-max-live=1000"});
  REQUIRE(config.ok());
  CHECK(config->heap);
  CHECK(config->heap_rate == 1);
  CHECK(config->heap_max_live == 1000);

  CHECK(ParseCommandLine({"--heap-rate", "0"}).status().message() ==
        "bad --heap-rate '0': want an integer from 1 to 1073741824");
  CHECK(ParseCommandLine({"--heap-max-live", "1"}).status().message() ==
        "bad --heap-max-live '1': want an integer from 16 to 16777216");
  CHECK(ParseCommandLine({"--heap=yes"}).status().message() ==
        "unknown option '--heap=yes': see pprofd --help");
}

TEST_CASE("Off-CPU rate flag", "[config]") {
  StatusOr<Config> defaults = ParseCommandLine({});
  REQUIRE(defaults.ok());
  CHECK(defaults->offcpu_rate_ns == 1000000);
  StatusOr<Config> config = ParseCommandLine({"--offcpu-rate=1"});
  REQUIRE(config.ok());
  CHECK(config->offcpu_rate_ns == 1);
  CHECK(ParseCommandLine({"--offcpu-rate", "0"}).status().message() ==
        "bad --offcpu-rate '0': want an integer from 1 to 10000000000");
}

TEST_CASE("Off-CPU tracking from start-up: --block, --mutex, --offcpu-max-stacks", "[config]") {
  StatusOr<Config> defaults = ParseCommandLine({});
  REQUIRE(defaults.ok());
  CHECK_FALSE(defaults->block);
  CHECK_FALSE(defaults->mutex);
  CHECK(defaults->offcpu_max_stacks == 4096);
  StatusOr<Config> config = ParseCommandLine({"--block", "--mutex", "--offcpu-max-stacks=100"});
  REQUIRE(config.ok());
  CHECK(config->block);
  CHECK(config->mutex);
  CHECK(config->offcpu_max_stacks == 100);
  CHECK(ParseCommandLine({"--offcpu-max-stacks", "8"}).status().message() ==
        "bad --offcpu-max-stacks '8': want an integer from 16 to 1048576");
  CHECK(ParseCommandLine({"--block=1"}).status().message() ==
        "unknown option '--block=1': see pprofd --help");
  CHECK_THAT(UsageText(), Catch::Contains("--block") && Catch::Contains("--mutex") &&
                              Catch::Contains("--offcpu-max-stacks"));
}

}  // namespace
}  // namespace pprofd

namespace pprofd {
namespace {

TEST_CASE("Continuous CPU flags", "[config]") {
  StatusOr<Config> defaults = ParseCommandLine({});
  REQUIRE(defaults.ok());
  CHECK(defaults->continuous_hz == 0);
  CHECK(defaults->history_seconds == 600);
  CHECK(defaults->history_bytes == uint64_t{64} << 20);
  StatusOr<Config> config =
      ParseCommandLine({"--continuous", "19", "--history", "1h", "--history-bytes=256M"});
  REQUIRE(config.ok());
  CHECK(config->continuous_hz == 19);
  CHECK(config->history_seconds == 3600);
  CHECK(config->history_bytes == uint64_t{256} << 20);
  CHECK(ParseCommandLine({"--continuous=19", "--history=90s"})->history_seconds == 90);
  CHECK(ParseCommandLine({"--continuous=19", "--history=15m"})->history_seconds == 900);
  CHECK(ParseCommandLine({"--continuous=19", "--history=120"})->history_seconds == 120);
  CHECK(ParseCommandLine({"--continuous=19", "--history-bytes=1048576"})->history_bytes == 1048576);
  CHECK(ParseCommandLine({"--continuous", "19", "--history", "5s"}).status().message() ==
        "bad --history '5s': want a duration from 10s to 24h, e.g. 600s, 10m or 1h");
  CHECK(ParseCommandLine({"--continuous", "19", "--history", "10x"}).status().message() ==
        "bad --history '10x': want a duration from 10s to 24h, e.g. 600s, 10m or 1h");
  CHECK(ParseCommandLine({"--continuous", "19", "--history-bytes", "1K"}).status().message() ==
        "bad --history-bytes '1K': want a size from 1M to 16G, in bytes or with K, M or G");
  CHECK(ParseCommandLine({"--history", "10m"}).status().message() ==
        "--history and --history-bytes size the history of --continuous: add --continuous HZ "
        "(e.g. 19)");
  CHECK(ParseCommandLine({"--continuous", "2000"}).status().message() ==
        "--continuous 2000 is above --max-hz 1000: lower --continuous or raise --max-hz");
  CHECK(ParseCommandLine({"--continuous", "0"}).status().message() ==
        "bad --continuous '0': want an integer from 1 to 10000");
}

}  // namespace
}  // namespace pprofd
