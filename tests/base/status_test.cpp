#include "base/status.h"

#include <catch2/catch.hpp>

namespace pprofd {

TEST_CASE("StatusOr carries a value or an error") {
  StatusOr<int> good(7);
  REQUIRE(good.ok());
  CHECK(*good == 7);

  StatusOr<int> bad(Status::Error("open /x: No such file or directory"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "open /x: No such file or directory");

  StatusOr<int> misuse(Status::Ok());
  CHECK_FALSE(misuse.ok());
}

TEST_CASE("ErrnoError names the object and the reason") {
  CHECK(ErrnoError("perf_event_open cpu=3", EACCES).message() ==
        "perf_event_open cpu=3: Permission denied");
}

}  // namespace pprofd
