// Network safety end to end: the real agent on a real workload, reached over HTTPS with client
// certificates (certificates made by the openssl CLI), with Basic auth, and through the limits
// and timeouts, by pprof, curl and raw sockets.
//
// `go tool pprof` cannot present a client certificate: cmd/pprof fetches http(s) URLs with its own
// client and ignores -tls_cert, -tls_key and -tls_ca (Go 1.19 here; see getProfile in
// $GOROOT/src/cmd/pprof/pprof.go). The standalone pprof honours them; the test builds it offline
// from the copy of github.com/google/pprof vendored in GOROOT, the very code `go tool pprof` runs
// but for that fetcher. `go tool pprof` itself is tested over HTTPS (server certificate through
// SSL_CERT_FILE) with Basic auth, which it does send.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "tests/e2e/harness/agent_harness.h"

namespace pprofd::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A CA, a server certificate for IP:127.0.0.1 and a client certificate the CA signed, plus a
// client certificate from another CA.
struct Certificates {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
};

Certificates MakeCertificates() {
  Certificates certificates{TempDir()};
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  const std::string script =
      "set -e; cd " + certificates.dir + "; openssl req -x509" + ec +
      "-keyout ca.key -out ca.pem -days 2 -subj /CN=pprofd-test-ca"
      "; printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext"
      "; openssl req" +
      ec +
      "-keyout server.key -out server.csr -subj /CN=127.0.0.1"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      "  -out server.pem -days 2 -extfile server.ext"
      "; printf 'extendedKeyUsage=clientAuth\\n' > client.ext"
      "; openssl req" +
      ec +
      "-keyout client.key -out client.csr -subj /CN=client"
      "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      "  -out client.pem -days 2 -extfile client.ext"
      "; openssl req -x509" +
      ec + "-keyout rogue.key -out rogue.pem -days 2 -subj /CN=rogue";
  CommandResult result = RunCommand({"bash", "-c", script});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return certificates;
}

// The standalone pprof (see the top of the file), built once per test process; fails the test
// when it cannot be built.
std::string StandalonePprof() {
  static const std::string binary = [] {
    const std::string dir = TempDir();
    CommandResult copy = RunCommand(
        {"bash", "-c",
         "set -e; V=$(go env GOROOT)/src/cmd/vendor; mkdir -p " + dir +
             "/main; cp -r "
             "$V/github.com/google/pprof " +
             dir + "/pprof; cp -r $V/github.com/ianlancetaylor/demangle " + dir + "/demangle"});
    if (copy.exit_code != 0) FAIL("copying pprof's source from GOROOT failed: " << copy.err);
    std::ofstream(dir + "/pprof/go.mod")
        << "module github.com/google/pprof\n\ngo 1.17\n\n"
           "require github.com/ianlancetaylor/demangle v0.0.0\n\n"
           "replace github.com/ianlancetaylor/demangle => ../demangle\n";
    std::ofstream(dir + "/demangle/go.mod")
        << "module github.com/ianlancetaylor/demangle\n\ngo 1.12\n";
    std::ofstream(dir + "/main/go.mod")
        << "module pprofclient\n\ngo 1.17\n\n"
           "require github.com/google/pprof v0.0.0\n"
           "require github.com/ianlancetaylor/demangle v0.0.0\n\n"
           "replace github.com/google/pprof => ../pprof\n"
           "replace github.com/ianlancetaylor/demangle => ../demangle\n";
    // google/pprof's own main, without cmd/pprof's fetcher.
    std::ofstream(dir + "/main/main.go") << R"(package main

import (
	"fmt"
	"os"

	"github.com/google/pprof/driver"
)

func main() {
	if err := driver.PProf(&driver.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(2)
	}
}
)";
    CommandResult build = RunCommand(
        {"bash", "-c",
         "cd " + dir + "/main && HOME=" + dir + " GOPATH=" + dir + "/gopath GOCACHE=" + dir +
             "/cache GOPROXY=off GOFLAGS=-mod=mod go build -o " + dir + "/pprof-standalone ."},
        std::chrono::seconds(300));
    if (build.exit_code != 0) FAIL("building the standalone pprof failed: " << build.err);
    return dir + "/pprof-standalone";
  }();
  return binary;
}

const std::vector<std::string> kGoToolPprof = {"go", "tool", "pprof"};

// `pprof` -raw `flags` `url`, with a private HOME and `env` (VAR=value) added.
CommandResult PprofRaw(const std::vector<std::string>& pprof, const std::vector<std::string>& flags,
                       const std::string& url, const std::vector<std::string>& env = {}) {
  static const std::string home = TempDir();
  std::vector<std::string> argv = {"env", "HOME=" + home, "PPROF_TMPDIR=" + home,
                                   "GOCACHE=" + home + "/gocache", "GOPATH=" + home + "/gopath"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.insert(argv.end(), pprof.begin(), pprof.end());
  argv.push_back("-raw");
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(url);
  return RunCommand(argv, std::chrono::seconds(120));
}

void CheckCpuProfile(const CommandResult& result) {
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  RawProfile profile;
  std::string error;
  REQUIRE(ParseRaw(result.out, &profile, &error));
  CHECK(profile.period_type == "cpu nanoseconds");
  CHECK(profile.TotalCount() > 0);
  // cpu_split_g burns its CPU in HotAlpha, HotBeta and HotGamma.
  int64_t hot = 0;
  for (const auto& sample : profile.samples) {
    for (const std::string& name : profile.Functions(sample)) {
      if (name.find("Hot") != std::string::npos) {
        hot += sample.values[0];
        break;
      }
    }
  }
  CHECK(hot * 2 > profile.TotalCount());
}

std::string HeaderValue(const std::string& curl_output, const std::string& name) {
  for (const std::string& line : Lines(curl_output.substr(0, curl_output.find("\r\n\r\n")))) {
    if (line.size() > name.size() + 1 &&
        strncasecmp(line.c_str(), name.c_str(), name.size()) == 0 && line[name.size()] == ':') {
      std::string value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      return value;
    }
  }
  return "";
}

std::string WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path) << content;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

// Raw TCP to 127.0.0.1:port (closed on destruction).
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until the server closes (true) or `timeout` passes (false); what came is in received().
  bool WaitForClose(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    while (true) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return true;  // EOF or reset
      received_.append(buffer, static_cast<size_t>(n));
    }
  }
  // Reads until `text` has arrived at or after offset `from` of received(), or `timeout` passes.
  bool WaitFor(const std::string& text, std::chrono::milliseconds timeout, size_t from = 0) {
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    while (received_.find(text, from) == std::string::npos) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      received_.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_;
  bool connected_ = false;
  std::string received_;
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST_CASE(
    "TLS with client certificates: pprof with -tls_cert gets a CPU profile, others are "
    "refused",
    "[e2e][network]") {
  const Certificates certs = MakeCertificates();
  const std::string pprof = StandalonePprof();
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--tls-cert", certs.Path("server.pem"), "--tls-key",
                               certs.Path("server.key"), "--tls-client-ca", certs.Path("ca.pem")});
  REQUIRE(agent.listening());
  const std::string https = "https://127.0.0.1:" + std::to_string(agent.port());

  CheckCpuProfile(PprofRaw({pprof},
                           {"-tls_cert", certs.Path("client.pem"), "-tls_key",
                            certs.Path("client.key"), "-tls_ca", certs.Path("ca.pem")},
                           https + "/debug/pprof/profile?seconds=2"));

  // pprof without a client certificate, and with one from another CA: the handshake fails.
  CommandResult no_cert = PprofRaw({pprof}, {"-tls_ca", certs.Path("ca.pem")},
                                   https + "/debug/pprof/profile?seconds=1");
  CHECK(no_cert.exit_code != 0);
  CHECK_THAT(no_cert.err, Catch::Contains("certificate required"));

  CommandResult with = Curl({"--cacert", certs.Path("ca.pem"), "--cert", certs.Path("client.pem"),
                             "--key", certs.Path("client.key"), https + "/debug/pprof/"});
  CHECK(StatusCode(with.out) == 200);
  CHECK_THAT(with.out, Catch::Contains("/debug/pprof/"));

  CommandResult without = Curl({"--cacert", certs.Path("ca.pem"), https + "/debug/pprof/"});
  INFO(without.out << without.err);
  CHECK(without.exit_code != 0);
  CHECK(StatusCode(without.out) == -1);

  CommandResult rogue = Curl({"--cacert", certs.Path("ca.pem"), "--cert", certs.Path("rogue.pem"),
                              "--key", certs.Path("rogue.key"), https + "/debug/pprof/"});
  CHECK(rogue.exit_code != 0);
  CHECK(StatusCode(rogue.out) == -1);

  // Plain HTTP to the HTTPS port: a 400 saying so, no profile.
  CommandResult plain = Curl({agent.Url("/debug/pprof/profile?seconds=1")});
  CHECK(StatusCode(plain.out) == 400);
  CHECK(HeaderValue(plain.out, "X-Go-Pprof") == "1");
  CHECK(BodyOf(plain.out) == "client sent an HTTP request to an HTTPS server: use https://\n");
  CommandResult plain_pprof =
      PprofRaw(kGoToolPprof, {}, agent.Url("/debug/pprof/profile?seconds=1"));
  CHECK(plain_pprof.exit_code != 0);
  CHECK_THAT(plain_pprof.err, Catch::Contains("client sent an HTTP request to an HTTPS server"));

  // Failed handshakes are routine: logged at debug only, and the agent keeps serving.
  CHECK(agent.process().Stderr().find("handshake") == std::string::npos);
  CHECK(agent.process().Running());
}

TEST_CASE("go tool pprof over HTTPS with Basic auth gets a CPU profile", "[e2e][network]") {
  const Certificates certs = MakeCertificates();
  const std::string passwords = WriteFile(certs.Path("passwords"), "user:pass\n", 0600);
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--tls-cert", certs.Path("server.pem"), "--tls-key",
                               certs.Path("server.key"), "--basic-auth-file", passwords});
  REQUIRE(agent.listening());
  const std::string host = "127.0.0.1:" + std::to_string(agent.port());
  // Go takes extra trusted roots from SSL_CERT_FILE.
  const std::vector<std::string> trust_ca = {"SSL_CERT_FILE=" + certs.Path("ca.pem")};
  CheckCpuProfile(PprofRaw(
      kGoToolPprof, {}, "https://user:pass@" + host + "/debug/pprof/profile?seconds=2", trust_ca));
  CommandResult wrong = PprofRaw(
      kGoToolPprof, {}, "https://user:nope@" + host + "/debug/pprof/profile?seconds=1", trust_ca);
  CHECK(wrong.exit_code != 0);
  CHECK_THAT(wrong.err, Catch::Contains("wrong user or password"));
}

TEST_CASE("Basic auth: the right user and password get profiles, others get 401",
          "[e2e][network]") {
  const std::string dir = TempDir();
  const std::string passwords =
      WriteFile(dir + "/passwords", "# pprofd users\nuser:pass\nother:word\n", 0600);
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--basic-auth-file", passwords});
  REQUIRE(agent.listening());
  const std::string host = "127.0.0.1:" + std::to_string(agent.port());

  CheckCpuProfile(
      PprofRaw(kGoToolPprof, {}, "http://user:pass@" + host + "/debug/pprof/profile?seconds=2"));

  CommandResult wrong = Curl({"-u", "user:wrong", agent.Url("/debug/pprof/")});
  CHECK(StatusCode(wrong.out) == 401);
  CHECK(HeaderValue(wrong.out, "WWW-Authenticate") == "Basic realm=\"pprofd\"");
  CHECK(HeaderValue(wrong.out, "X-Go-Pprof") == "1");
  CHECK(Lines(BodyOf(wrong.out)).size() == 1);
  CommandResult none = Curl({agent.Url("/debug/pprof/profile?seconds=1")});
  CHECK(StatusCode(none.out) == 401);
  CHECK(HeaderValue(none.out, "WWW-Authenticate") == "Basic realm=\"pprofd\"");
  CHECK(StatusCode(Curl({"-u", "other:word", agent.Url("/debug/pprof/")}).out) == 200);
  CHECK(StatusCode(Curl({"-u", "other:pass", agent.Url("/debug/pprof/")}).out) == 401);
  CHECK(StatusCode(Curl({agent.Url("/metrics")}).out) == 401);
  // Liveness probes carry no credentials.
  CHECK(StatusCode(Curl({agent.Url("/healthz")}).out) == 200);
  // The file is private: no warning about it.
  CHECK(agent.process().Stderr().find("readable by group or others") == std::string::npos);
}

TEST_CASE("Basic auth: a world-readable file is warned about, a malformed one refused",
          "[e2e][network]") {
  const std::string dir = TempDir();
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  const std::string readable = WriteFile(dir + "/readable", "user:pass\n", 0644);
  Agent agent(workload.pid(), {"--basic-auth-file", readable});
  REQUIRE(agent.listening());
  CHECK_THAT(agent.process().Stderr(),
             Catch::Contains("--basic-auth-file " + readable +
                             " is readable by group or others (mode 0644)"));

  const std::string malformed = WriteFile(dir + "/malformed", "user:pass\njust-a-name\n", 0600);
  CommandResult bad =
      RunCommand({AgentPath(), "--pid", std::to_string(workload.pid()), "--listen",
                  "127.0.0.1:" + std::to_string(FreePort()), "--basic-auth-file", malformed},
                 std::chrono::seconds(60));
  CHECK(bad.exit_code != 0);
  CHECK_THAT(bad.err, Catch::Contains("--basic-auth-file " + malformed +
                                      ": line 2: want user:password, found no ':'"));
}

TEST_CASE("TLS files that do not load stop the agent with a line naming the flag",
          "[e2e][network]") {
  const Certificates certs = MakeCertificates();
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  auto start = [&](const std::string& cert, const std::string& key) {
    return RunCommand(
        {AgentPath(), "--pid", std::to_string(workload.pid()), "--listen",
         "127.0.0.1:" + std::to_string(FreePort()), "--tls-cert", cert, "--tls-key", key},
        std::chrono::seconds(60));
  };
  CommandResult missing = start(certs.Path("server.pem"), "/nonexistent.key");
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.err, Catch::Contains("--tls-key /nonexistent.key: No such file or directory"));
  CommandResult mismatch = start(certs.Path("server.pem"), certs.Path("rogue.key"));
  CHECK(mismatch.exit_code != 0);
  CHECK_THAT(mismatch.err,
             Catch::Contains("--tls-cert " + certs.Path("server.pem") + " and --tls-key " +
                             certs.Path("rogue.key") + " do not match"));
}

TEST_CASE("Max concurrent 2: of three concurrent CPU profiles one gets 503", "[e2e][network]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--max-concurrent", "2"});
  REQUIRE(agent.listening());
  std::vector<std::future<CommandResult>> fetches;
  for (int i = 0; i < 3; ++i) {
    fetches.push_back(std::async(
        std::launch::async, [&] { return Curl({agent.Url("/debug/pprof/profile?seconds=3")}); }));
  }
  int ok = 0;
  int unavailable = 0;
  for (auto& fetch : fetches) {
    CommandResult result = fetch.get();
    const int status = StatusCode(result.out);
    INFO(result.out.substr(0, 400));
    if (status == 200) ++ok;
    if (status == 503) {
      ++unavailable;
      CHECK(HeaderValue(result.out, "X-Go-Pprof") == "1");
      CHECK_THAT(BodyOf(result.out), Catch::Contains("--max-concurrent"));
      CHECK(Lines(BodyOf(result.out)).size() == 1);
    }
  }
  CHECK(ok == 2);
  CHECK(unavailable == 1);
  // The places are free again.
  CHECK(StatusCode(Curl({agent.Url("/debug/pprof/profile?seconds=1")}).out) == 200);
}

TEST_CASE("The read timeout cuts off a client trickling its request while others are served",
          "[e2e][network]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--read-timeout", "3"});
  REQUIRE(agent.listening());
  RawClient slow(agent.port());
  REQUIRE(slow.connected());
  const std::string request = "GET /debug/pprof/ HTTP/1.1\r\nHost: slowloris\r\n\r\n";
  const auto start = Clock::now();
  // A byte a second, checking each second whether the server has hung up; a normal request
  // meanwhile.
  auto normal = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(1500ms);
    return Curl({agent.Url("/debug/pprof/")});
  });
  bool closed = false;
  for (size_t i = 0; i < request.size() && !closed; ++i) {
    slow.Send(request.substr(i, 1));
    closed = slow.WaitForClose(1s);
  }
  const double waited = SecondsSince(start);
  CHECK(closed);
  CHECK(waited >= 2.5);
  CHECK(waited <= 5.0);
  CHECK(slow.received().empty());  // cut off, not answered
  CHECK(StatusCode(normal.get().out) == 200);
}

TEST_CASE("The idle timeout closes an idle keep-alive connection", "[e2e][network]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--idle-timeout", "2"});
  REQUIRE(agent.listening());
  RawClient client(agent.port());
  REQUIRE(client.connected());
  REQUIRE(client.Send("GET /debug/pprof/cmdline HTTP/1.1\r\nHost: idle\r\n\r\n"));
  REQUIRE(client.WaitFor("cpu_split_g", 10s));
  // Kept alive: a second request on the same connection within the timeout is served.
  std::this_thread::sleep_for(1s);
  const size_t first_end = client.received().size();
  REQUIRE(client.Send("GET /debug/pprof/cmdline HTTP/1.1\r\nHost: idle\r\n\r\n"));
  REQUIRE(client.WaitFor("cpu_split_g", 10s, first_end));
  CHECK(client.received().find("HTTP/1.1 200 OK", first_end) != std::string::npos);
  const auto idle_since = Clock::now();
  CHECK(client.WaitForClose(10s));
  const double waited = SecondsSince(idle_since);
  CHECK(waited >= 1.5);
  CHECK(waited <= 3.5);
}

TEST_CASE("An oversized header gets 431, an oversized body 413, a large /symbol post 200",
          "[e2e][network]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid());
  REQUIRE(agent.listening());
  CHECK(StatusCode(
            Curl({"-H", "X-Big: " + std::string(9000, 'a'), agent.Url("/debug/pprof/")}).out) ==
        431);
  const std::string dir = TempDir();
  const std::string big = WriteFile(dir + "/big", std::string(1024 * 1024 + 1, '0'), 0600);
  CHECK(StatusCode(Curl({"--data-binary", "@" + big, agent.Url("/debug/pprof/symbol")}).out) ==
        413);
  // What pprof posts for a large binary: tens of thousands of addresses, well above the old
  // 64 KiB.
  std::string addresses;
  for (int i = 0; addresses.size() < 600 * 1024; ++i) {
    if (!addresses.empty()) addresses += "+";
    addresses += "0x" + std::to_string(400000 + i);
  }
  const std::string post = WriteFile(dir + "/addresses", addresses, 0600);
  CommandResult symbols = Curl({"--data-binary", "@" + post, agent.Url("/debug/pprof/symbol")});
  CHECK(StatusCode(symbols.out) == 200);
}

TEST_CASE("A non-loopback --listen without authentication is warned about", "[e2e][network]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  const std::string warning =
      "is not a loopback address and neither --tls-client-ca nor "
      "--basic-auth-file is set: anyone who can reach the port can read "
      "the target's memory layout, stacks and command line";
  {
    const int port = FreePort();
    Subprocess agent({AgentPath(), "--pid", std::to_string(workload.pid()), "--listen",
                      "0.0.0.0:" + std::to_string(port)});
    REQUIRE(WaitForPort(port, 20s));
    CHECK_THAT(agent.Stderr(),
               Catch::Contains("--listen 0.0.0.0:" + std::to_string(port) + " " + warning));
  }
  {
    const std::string passwords = WriteFile(TempDir() + "/passwords", "user:pass\n", 0600);
    const int port = FreePort();
    Subprocess agent({AgentPath(), "--pid", std::to_string(workload.pid()), "--listen",
                      "0.0.0.0:" + std::to_string(port), "--basic-auth-file", passwords});
    REQUIRE(WaitForPort(port, 20s));
    CHECK(agent.Stderr().find(warning) == std::string::npos);
  }
  {
    // Loopback needs nothing.
    Agent agent(workload.pid());
    REQUIRE(agent.listening());
    CHECK(agent.process().Stderr().find(warning) == std::string::npos);
  }
}

TEST_CASE("No-cmdline answers 403 on cmdline and leaves it out of the index", "[e2e][network]") {
  Subprocess workload({FixturePath("workloads/cpu_split_g"), "120"});
  Agent agent(workload.pid(), {"--no-cmdline"});
  REQUIRE(agent.listening());
  CommandResult cmdline = Curl({agent.Url("/debug/pprof/cmdline")});
  CHECK(StatusCode(cmdline.out) == 403);
  CHECK(HeaderValue(cmdline.out, "X-Go-Pprof") == "1");
  CHECK_THAT(BodyOf(cmdline.out), Catch::StartsWith("cmdline is disabled by --no-cmdline"));
  CHECK(BodyOf(cmdline.out).find("cpu_split_g") == std::string::npos);
  CHECK(Lines(BodyOf(cmdline.out)).size() == 1);
  CommandResult index = Curl({agent.Url("/debug/pprof/")});
  CHECK(StatusCode(index.out) == 200);
  CHECK(BodyOf(index.out).find("cmdline") == std::string::npos);
}

}  // namespace
}  // namespace pprofd::e2e
