// HTTPS with client certificates: loading errors, and the real handshake against certificates
// the openssl CLI makes, with an Asio TLS client.
#include "agent/http/tls.h"

#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "tests/http/test_client.h"
#include "tests/http/test_server.h"

namespace pprofd::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast_http = boost::beast::http;
using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::Connect;
using testing::ReadResponse;
using testing::RequestBytes;
using testing::SendAll;
using testing::TestServer;
using testing::WaitForClose;

// A CA, a server certificate for IP 127.0.0.1 and a client certificate, made once per process
// with the openssl CLI; plus a second key that matches neither.
class Certificates {
 public:
  static const Certificates& Get() {
    static const Certificates certificates;
    return certificates;
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  bool ok() const { return ok_; }

 private:
  Certificates() {
    char dir_template[] = "/tmp/pprofd_tls_test.XXXXXX";
    dir_ = ::mkdtemp(dir_template);
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string script =
        "set -e; cd " + dir_ +
        "; exec 2>openssl.log"
        "; openssl req -x509" +
        ec +
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca"
        "; printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext"
        "; openssl req" +
        ec +
        "-keyout server.key -out server.csr -subj /CN=127.0.0.1"
        "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        "  -out server.pem -days 2 -extfile server.ext"
        "; openssl req" +
        ec +
        "-keyout client.key -out client.csr -subj /CN=client"
        "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        "  -out client.pem -days 2"
        "; openssl req -x509" +
        ec +
        "-keyout other.key -out other.pem -days 2 -subj /CN=other"
        "; openssl pkey -in server.key -aes128 -passout pass:pw -out encrypted.key"
        "; echo 'not a certificate' > garbage.pem";
    ok_ = std::system(("bash -c \"" + script + "\"").c_str()) == 0;
  }
  ~Certificates() { std::filesystem::remove_all(dir_); }

  std::string dir_;
  bool ok_ = false;
};

std::string LoadError(const TlsFiles& files) {
  StatusOr<std::shared_ptr<ssl::context>> context = MakeTlsContext(files);
  return context.ok() ? "ok" : context.status().message();
}

TEST_CASE("TLS files that do not load give one line naming the flag and the file", "[tls]") {
  const Certificates& c = Certificates::Get();
  REQUIRE(c.ok());
  CHECK(LoadError({c.Path("server.pem"), c.Path("server.key"), ""}) == "ok");
  CHECK(LoadError({c.Path("server.pem"), c.Path("server.key"), c.Path("ca.pem")}) == "ok");
  CHECK(LoadError({"/nonexistent.pem", c.Path("server.key"), ""}) ==
        "--tls-cert /nonexistent.pem: No such file or directory");
  CHECK(LoadError({c.Path("server.pem"), "/nonexistent.key", ""}) ==
        "--tls-key /nonexistent.key: No such file or directory");
  CHECK(LoadError({c.Path("server.pem"), c.Path("server.key"), "/nonexistent-ca.pem"}) ==
        "--tls-client-ca /nonexistent-ca.pem: No such file or directory");
  CHECK_THAT(
      LoadError({c.Path("garbage.pem"), c.Path("server.key"), ""}),
      Catch::StartsWith("--tls-cert " + c.Path("garbage.pem") + ": not a PEM certificate chain ("));
  CHECK_THAT(LoadError({c.Path("server.pem"), c.Path("garbage.pem"), ""}),
             Catch::StartsWith("--tls-key " + c.Path("garbage.pem") + ": not a PEM private key"));
  CHECK(LoadError({c.Path("server.pem"), c.Path("other.key"), ""}) ==
        "--tls-cert " + c.Path("server.pem") + " and --tls-key " + c.Path("other.key") +
            " do not match: pass the key the certificate was made for");
  CHECK_THAT(LoadError({c.Path("server.pem"), c.Path("encrypted.key"), ""}),
             Catch::StartsWith("--tls-key " + c.Path("encrypted.key") +
                               ": the key is encrypted and pprofd cannot ask for its passphrase"));
  CHECK(LoadError({c.Path("server.pem"), c.Path("server.key"), c.Path("garbage.pem")}) ==
        "--tls-client-ca " + c.Path("garbage.pem") +
            ": no PEM certificate in it; pass the CA that signs client certificates");
  // A key given as the certificate.
  CHECK_THAT(LoadError({c.Path("server.key"), c.Path("server.key"), ""}),
             Catch::StartsWith("--tls-cert " + c.Path("server.key") + ": not a PEM certificate"));
}

struct TlsResult {
  std::string error;  // empty when a response arrived
  int status = 0;
  std::string body;
};

// GET `target` over TLS, trusting the test CA; with the client certificate when `with_cert`.
TlsResult TlsGet(unsigned short port, bool with_cert, const std::string& target) {
  const Certificates& c = Certificates::Get();
  asio::io_context io;
  ssl::context context(ssl::context::tls_client);
  context.load_verify_file(c.Path("ca.pem"));
  context.set_verify_mode(ssl::verify_peer);
  if (with_cert) {
    context.use_certificate_chain_file(c.Path("client.pem"));
    context.use_private_key_file(c.Path("client.key"), ssl::context::pem);
  }
  ssl::stream<asio::ip::tcp::socket> stream(io, context);
  TlsResult result;
  boost::beast::flat_buffer buffer;
  beast_http::request<beast_http::string_body> request(beast_http::verb::get, target, 11);
  request.set(beast_http::field::host, "127.0.0.1");
  beast_http::response<beast_http::string_body> response;
  auto fail = [&](std::string_view what, const boost::system::error_code& ec) {
    result.error = StrCat(what, ": ", ec.message());
  };
  stream.next_layer().async_connect(
      {asio::ip::make_address("127.0.0.1"), port}, [&](boost::system::error_code ec) {
        if (ec) return fail("connect", ec);
        stream.async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
          if (ec) return fail("handshake", ec);
          beast_http::async_write(stream, request, [&](boost::system::error_code ec, size_t) {
            if (ec) return fail("write", ec);
            beast_http::async_read(stream, buffer, response,
                                   [&](boost::system::error_code ec, size_t) {
                                     if (ec) return fail("read", ec);
                                     result.status = response.result_int();
                                     result.body = response.body();
                                   });
          });
        });
      });
  io.run_for(10s);
  if (result.error.empty() && result.status == 0) result.error = "timed out";
  return result;
}

ServerOptions TlsOptions(bool client_ca) {
  const Certificates& c = Certificates::Get();
  StatusOr<std::shared_ptr<ssl::context>> context = MakeTlsContext(
      {c.Path("server.pem"), c.Path("server.key"), client_ca ? c.Path("ca.pem") : ""});
  REQUIRE(context.ok());
  ServerOptions options;
  options.tls = *context;
  options.read_timeout = 500ms;
  return options;
}

void Hello(const Request& request, Respond respond) {
  respond(TextResponse(beast_http::status::ok, StrCat("hello ", request.target())));
}

TEST_CASE("HTTPS serves clients that present a certificate the CA signed", "[tls]") {
  REQUIRE(Certificates::Get().ok());
  TestServer server(Hello, TlsOptions(/*client_ca=*/true));
  REQUIRE(server.ok());
  TlsResult with = TlsGet(server.port(), true, "/with");
  CHECK(with.error == "");
  CHECK(with.status == 200);
  CHECK(with.body == "hello /with\n");

  TlsResult without = TlsGet(server.port(), false, "/without");
  INFO(without.error);
  CHECK(without.status == 0);
  CHECK_FALSE(without.error.empty());
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("HTTPS without a client CA serves any TLS client", "[tls]") {
  REQUIRE(Certificates::Get().ok());
  TestServer server(Hello, TlsOptions(/*client_ca=*/false));
  REQUIRE(server.ok());
  TlsResult result = TlsGet(server.port(), false, "/anyone");
  CHECK(result.error == "");
  CHECK(result.body == "hello /anyone\n");
}

TEST_CASE("Plain HTTP to the HTTPS port gets a 400 in the clear", "[tls]") {
  REQUIRE(Certificates::Get().ok());
  TestServer server(Hello, TlsOptions(/*client_ca=*/true));
  REQUIRE(server.ok());
  ScopedFd fd = Connect(server.port());
  REQUIRE(SendAll(fd.get(), RequestBytes("GET", "/debug/pprof/profile")));
  std::string pending;
  StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
  REQUIRE(response.ok());
  CHECK(response->result_int() == 400);
  CHECK(response->body() == "client sent an HTTP request to an HTTPS server: use https://\n");
  CHECK((*response)["X-Go-Pprof"] == "1");
  CHECK(WaitForClose(fd.get(), 3s));
  // Bytes that are neither: closed without a word.
  ScopedFd binary = Connect(server.port());
  REQUIRE(SendAll(binary.get(), std::string("\x01\x02\x03", 3)));
  CHECK(WaitForClose(binary.get(), 3s));
}

TEST_CASE("A TLS handshake that never finishes is cut off at the read timeout", "[tls]") {
  REQUIRE(Certificates::Get().ok());
  TestServer server(Hello, TlsOptions(/*client_ca=*/true));
  REQUIRE(server.ok());
  ScopedFd silent = Connect(server.port());
  ScopedFd partial = Connect(server.port());
  // The start of a ClientHello record, never completed.
  REQUIRE(SendAll(partial.get(), std::string("\x16\x03\x01\x02\x00\x01", 6)));
  const auto start = std::chrono::steady_clock::now();
  CHECK(WaitForClose(silent.get(), 3s));
  CHECK(WaitForClose(partial.get(), 3s));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 400ms);
  CHECK(waited < 2s);
  // The server still serves.
  CHECK(TlsGet(server.port(), true, "/after").status == 200);
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

// A TLS connection to the test server, driven step by step (each step runs the io_context up to
// 10 s): to send a request and then hang up, or to send several on one connection.
class TlsClient {
 public:
  explicit TlsClient(unsigned short port) : context_(ClientContext()), stream_(io_, context_) {
    Run([&](auto done) {
      stream_.next_layer().async_connect({asio::ip::make_address("127.0.0.1"), port},
                                         [&, done](boost::system::error_code ec) {
                                           if (ec) return done(ec);
                                           stream_.async_handshake(ssl::stream_base::client, done);
                                         });
    });
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  void Send(const std::string& target) {
    request_ = {beast_http::verb::get, target, 11};
    request_.set(beast_http::field::host, "127.0.0.1");
    Run([&](auto done) {
      beast_http::async_write(stream_, request_,
                              [done](boost::system::error_code ec, size_t) { done(ec); });
    });
  }
  // The next response, or status 0 and error() set.
  beast_http::response<beast_http::string_body> Receive() {
    beast_http::response<beast_http::string_body> response;
    Run([&](auto done) {
      beast_http::async_read(stream_, buffer_, response,
                             [done](boost::system::error_code ec, size_t) { done(ec); });
    });
    return response;
  }
  // Closes the TCP connection without TLS's close_notify, as a client killed or timing out does.
  void HangUp() {
    boost::system::error_code ec;
    stream_.next_layer().close(ec);
  }

 private:
  // Trusts the test CA and presents the client certificate (set before the stream is made: the
  // stream copies the context's settings).
  static ssl::context ClientContext() {
    const Certificates& c = Certificates::Get();
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(c.Path("ca.pem"));
    context.set_verify_mode(ssl::verify_peer);
    context.use_certificate_chain_file(c.Path("client.pem"));
    context.use_private_key_file(c.Path("client.key"), ssl::context::pem);
    return context;
  }

  template <typename Start>
  void Run(Start start) {
    if (!error_.empty()) return;
    bool finished = false;
    start([this, &finished](boost::system::error_code ec) {
      finished = true;
      if (ec) error_ = ec.message();
    });
    io_.restart();
    io_.run_for(10s);
    if (!finished && error_.empty()) error_ = "timed out";
  }

  asio::io_context io_;
  ssl::context context_;
  ssl::stream<asio::ip::tcp::socket> stream_;
  boost::beast::flat_buffer buffer_;
  beast_http::request<beast_http::string_body> request_;
  std::string error_;
};

TEST_CASE("A TLS client that hangs up while its response is pending cancels the request",
          "[tls][cancellation]") {
  REQUIRE(Certificates::Get().ok());
  std::mutex mutex;
  std::vector<Respond> held;
  std::vector<CancelReason> cancelled;
  std::vector<Cancellation::Registration> registrations;
  auto handler = [&](const Request& request, Respond respond) {
    std::lock_guard lock(mutex);
    held.push_back(std::move(respond));
    registrations.push_back(request.cancellation().OnCancel([&](CancelReason reason) {
      std::lock_guard cancel_lock(mutex);
      cancelled.push_back(reason);
    }));
  };
  TestServer server(handler, TlsOptions(/*client_ca=*/true));
  REQUIRE(server.ok());
  TlsClient client(server.port());
  REQUIRE(client.ok());
  client.Send("/debug/pprof/profile?seconds=600");
  REQUIRE(client.ok());
  REQUIRE(TestServer::WaitFor([&] {
    std::lock_guard lock(mutex);
    return held.size() == 1;
  }));
  client.HangUp();
  REQUIRE(TestServer::WaitFor(
      [&] {
        std::lock_guard lock(mutex);
        return cancelled.size() == 1;
      },
      1s));
  {
    // Dropped outside the lock its cancellation callback takes.
    std::vector<Cancellation::Registration> dropped_registrations;
    std::vector<Respond> dropped_responders;
    std::lock_guard lock(mutex);
    // A reset, mostly: closing with the server's unread TLS 1.3 session tickets in the receive
    // buffer makes the kernel send RST rather than FIN.
    CHECK((cancelled[0] == CancelReason::kClientReset ||
           cancelled[0] == CancelReason::kClientClosed));
    dropped_registrations.swap(registrations);
    dropped_responders.swap(held);
  }
  CHECK(TestServer::WaitFor([&] { return server.server().active_sessions() == 0; }));
}

TEST_CASE("HTTPS keeps a connection alive across responses that take a while",
          "[tls][cancellation]") {
  REQUIRE(Certificates::Get().ok());
  std::mutex mutex;
  std::vector<std::thread> threads;
  std::atomic<int> cancelled{0};
  std::vector<Cancellation::Registration> registrations;
  auto handler = [&](const Request& request, Respond respond) {
    std::lock_guard lock(mutex);
    registrations.push_back(
        request.cancellation().OnCancel([&](CancelReason) { cancelled.fetch_add(1); }));
    threads.emplace_back([target = std::string(request.target()), respond = std::move(respond)] {
      std::this_thread::sleep_for(200ms);
      respond(TextResponse(beast_http::status::ok, "late " + target));
    });
  };
  {
    TestServer server(handler, TlsOptions(/*client_ca=*/true));
    REQUIRE(server.ok());
    TlsClient client(server.port());
    REQUIRE(client.ok());
    for (int i = 0; i < 3; ++i) {
      client.Send(StrCat("/n", i));
      auto response = client.Receive();
      INFO(client.error());
      REQUIRE(client.ok());
      CHECK(response.result_int() == 200);
      CHECK(response.body() == StrCat("late /n", i, "\n"));
      CHECK(response.keep_alive());
    }
    CHECK(cancelled.load() == 0);
  }
  std::lock_guard lock(mutex);
  for (std::thread& thread : threads) thread.join();
}

}  // namespace
}  // namespace pprofd::http
