// --basic-auth-file: the parser (golden cases), the Authorization header, and the wrapper over
// real HTTP.
#include "agent/http/basic_auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "base/log.h"
#include "tests/http/test_client.h"
#include "tests/http/test_server.h"

namespace pprofd::http {
namespace {

using testing::ClientResponse;
using testing::Connect;
using testing::HeaderOf;
using testing::ReadResponse;
using testing::SendAll;
using testing::TestServer;

std::string Message(std::string_view content) {
  StatusOr<BasicAuth> auth = BasicAuth::Parse(content);
  return auth.ok() ? "ok" : auth.status().message();
}

TEST_CASE("Basic auth file: users, comments and blank lines", "[basic_auth]") {
  StatusOr<BasicAuth> auth = BasicAuth::Parse(
      "# who may fetch profiles\n\nalice:s3cret\n  # indented comment\nbob:pa:ss word\r\n\t\n");
  REQUIRE(auth.ok());
  CHECK(auth->size() == 2);
  // "alice:s3cret" and "bob:pa:ss word" (split at the first colon; blanks are part of it).
  CHECK(auth->Allows("Basic YWxpY2U6czNjcmV0"));
  CHECK(auth->Allows("Basic Ym9iOnBhOnNzIHdvcmQ="));
  CHECK(auth->Allows("basic   YWxpY2U6czNjcmV0  "));
  CHECK_FALSE(auth->Allows("Basic YWxpY2U6czNjcmVU"));  // alice:s3creT
  CHECK_FALSE(auth->Allows("Basic Ym9iOnMzY3JldA=="));  // bob:s3cret: another user's password
  CHECK_FALSE(auth->Allows("Bearer YWxpY2U6czNjcmV0"));
  CHECK_FALSE(auth->Allows("Basic"));
  CHECK_FALSE(auth->Allows("Basic !!!!"));
  CHECK_FALSE(auth->Allows(""));
}

TEST_CASE("Basic auth file: malformed lines are named by number", "[basic_auth]") {
  CHECK(Message("a:b\nnocolon\n") == "line 2: want user:password, found no ':'");
  CHECK(Message("# c\n:pw\n") == "line 2: want user:password, the user is empty");
  CHECK(Message("\n\nalice:\n") ==
        "line 3: the password of user 'alice' is empty; give every user a password");
  CHECK(Message("alice:a\nbob:b\nalice:c\n") ==
        "line 3: user 'alice' appears again (first on line 1); keep one line per user");
  CHECK(Message("# only comments\n\n") ==
        "no user:password line in it; add one, e.g. pprof:SECRET");
  CHECK(Message("") == "no user:password line in it; add one, e.g. pprof:SECRET");
  // The password of a malformed line never appears in the message.
  CHECK(Message("alice secret-password\n").find("secret") == std::string::npos);
}

TEST_CASE("Basic credentials decode from the Authorization header", "[basic_auth]") {
  CHECK(DecodeBasicCredentials("Basic dXNlcjpwYXNz") == "user:pass");
  CHECK(DecodeBasicCredentials("BASIC dXNlcjpwYXNz") == "user:pass");
  CHECK(DecodeBasicCredentials("Basic dXNlcjpwYXM") == "user:pas");  // unpadded
  CHECK(DecodeBasicCredentials("Basic dXNlcjpwYXM=") == "user:pas");
  CHECK_FALSE(DecodeBasicCredentials("Basic dXNlcg=="));  // "user": no colon
  CHECK_FALSE(DecodeBasicCredentials("Basicx dXNlcjpwYXNz"));
  CHECK_FALSE(DecodeBasicCredentials("Digest dXNlcjpwYXNz"));
  CHECK_FALSE(DecodeBasicCredentials("Basic dXNlc*pwYXNz"));
  CHECK_FALSE(DecodeBasicCredentials("Basic dXNlcjpwYXNzA"));  // a lone 6-bit tail
}

TEST_CASE("Basic auth file: load errors name the flag and the file", "[basic_auth]") {
  StatusOr<BasicAuth> missing = BasicAuth::Load("/nonexistent/passwords");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() ==
        "--basic-auth-file /nonexistent/passwords: No such file or directory");

  char dir_template[] = "/tmp/basic_auth_test.XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/passwords";
  {
    std::ofstream out(path);
    out << "alice:a\nbroken\n";
  }
  StatusOr<BasicAuth> bad = BasicAuth::Load(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        StrCat("--basic-auth-file ", path, ": line 2: want user:password, found no ':'"));
  {
    std::ofstream out(path);
    out << "alice:a\n";
  }
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  CHECK(BasicAuth::Load(path).ok());
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

struct AuthFixture {
  static std::shared_ptr<const BasicAuth> Users() {
    StatusOr<BasicAuth> auth = BasicAuth::Parse("user:pass\n");
    REQUIRE(auth.ok());
    return std::make_shared<const BasicAuth>(std::move(*auth));
  }
  TestServer server{RequireBasicAuth(Users(), [](const Request& request, Respond respond) {
    respond(TextResponse(boost::beast::http::status::ok, StrCat("inner ", request.target())));
  })};

  ClientResponse Get(std::string_view target, std::string_view authorization) {
    ScopedFd fd = Connect(server.port());
    std::string request = StrCat("GET ", target, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    if (!authorization.empty()) request += StrCat("Authorization: ", authorization, "\r\n");
    request += "\r\n";
    REQUIRE(SendAll(fd.get(), request));
    std::string pending;
    StatusOr<ClientResponse> response = ReadResponse(fd.get(), pending);
    if (!response.ok()) FAIL(response.status().message());
    return std::move(*response);
  }
};

TEST_CASE_METHOD(AuthFixture, "Requests without valid credentials get 401", "[basic_auth]") {
  REQUIRE(server.ok());
  ClientResponse none = Get("/debug/pprof/", "");
  CHECK(none.result_int() == 401);
  CHECK(HeaderOf(none, "WWW-Authenticate") == "Basic realm=\"pprofd\"");
  CHECK(HeaderOf(none, "X-Go-Pprof") == "1");
  CHECK_THAT(none.body(), Catch::StartsWith("authentication required: pass a user and password "
                                            "from --basic-auth-file"));
  ClientResponse wrong = Get("/debug/pprof/", "Basic dXNlcjpwYXNT");  // user:pasS
  CHECK(wrong.result_int() == 401);
  CHECK(HeaderOf(wrong, "WWW-Authenticate") == "Basic realm=\"pprofd\"");
  CHECK_THAT(wrong.body(), Catch::StartsWith("wrong user or password"));
  CHECK(Get("/metrics", "").result_int() == 401);

  ClientResponse right = Get("/debug/pprof/", "Basic dXNlcjpwYXNz");
  CHECK(right.result_int() == 200);
  CHECK(right.body() == "inner /debug/pprof/\n");
}

TEST_CASE_METHOD(AuthFixture, "Healthz needs no credentials", "[basic_auth]") {
  REQUIRE(server.ok());
  CHECK(Get("/healthz", "").body() == "inner /healthz\n");
  CHECK(Get("/healthz?verbose=1", "").body() == "inner /healthz?verbose=1\n");
  CHECK(Get("/healthzz", "").result_int() == 401);
  CHECK(Get("/debug/pprof/healthz", "").result_int() == 401);
}

}  // namespace
}  // namespace pprofd::http
