#include "agent/metrics/registry.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/agent_metrics.h"

namespace pprofd::metrics {
namespace {

// Runs the real `promtool check metrics` on `text`; its exit code, its output in *output.
int PromtoolCheck(const std::string& text, std::string* output) {
  char dir_template[] = "/tmp/pprofd-metrics-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string input = std::string(dir) + "/metrics.txt";
  const std::string result = std::string(dir) + "/promtool.out";
  std::ofstream(input) << text;
  const int status =
      std::system(("promtool check metrics < " + input + " > " + result + " 2>&1").c_str());
  std::ifstream in(result);
  output->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::remove(input.c_str());
  std::remove(result.c_str());
  ::rmdir(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("Registry renders HELP and TYPE lines before the series of each family") {
  Registry registry;
  registry.Declare("requests_total", Type::kCounter, "Requests answered.");
  registry.Declare("temperature", Type::kGauge, "Degrees.");
  registry.Increment("requests_total", {{"code", "200"}});
  registry.Increment("requests_total", {{"code", "200"}}, 2);
  registry.Increment("requests_total", {{"code", "404"}});
  registry.Set("temperature", {}, 21.5);
  CHECK(registry.Render() ==
        "# HELP requests_total Requests answered.\n"
        "# TYPE requests_total counter\n"
        "requests_total{code=\"200\"} 3\n"
        "requests_total{code=\"404\"} 1\n"
        "# HELP temperature Degrees.\n"
        "# TYPE temperature gauge\n"
        "temperature 21.5\n");
}

TEST_CASE("Registry sorts families by name whatever the order of use") {
  Registry registry;
  for (const char* name : {"zeta", "alpha", "mid"}) {
    registry.Declare(name, Type::kGauge, "x");
    registry.Set(name, {}, 1);
  }
  const std::string text = registry.Render();
  const size_t alpha = text.find("alpha 1");
  const size_t mid = text.find("mid 1");
  const size_t zeta = text.find("zeta 1");
  REQUIRE(alpha != std::string::npos);
  REQUIRE(mid != std::string::npos);
  REQUIRE(zeta != std::string::npos);
  CHECK(alpha < mid);
  CHECK(mid < zeta);
}

TEST_CASE("Registry escapes label values and HELP text as the text format says") {
  CHECK(EscapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(EscapeHelp("a\\b\"c\nd") == "a\\\\b\"c\\nd");  // quotes stay in HELP

  Registry registry;
  registry.Declare("odd_total", Type::kCounter, "Line one\nline \\two");
  registry.Increment("odd_total", {{"path", "C:\\dir\n\"x\""}, {"b", "é"}});
  const std::string text = registry.Render();
  CHECK(text ==
        "# HELP odd_total Line one\\nline \\\\two\n"
        "# TYPE odd_total counter\n"
        "odd_total{path=\"C:\\\\dir\\n\\\"x\\\"\",b=\"é\"} 1\n");
  std::string output;
  const int exit_code = PromtoolCheck(text, &output);
  INFO(text << "promtool: " << output);
  CHECK(exit_code == 0);
}

TEST_CASE("Values: integers exactly, others in their shortest round-trip form") {
  CHECK(FormatValue(0) == "0");
  CHECK(FormatValue(42) == "42");
  CHECK(FormatValue(-7) == "-7");
  CHECK(FormatValue(123456789012345) == "123456789012345");
  CHECK(FormatValue(0.1) == "0.1");
  CHECK(FormatValue(0.23) == "0.23");
  CHECK(FormatValue(1795241466.73) == "1795241466.73");
  CHECK(FormatValue(1e300) == "1e+300");
  CHECK(FormatValue(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(FormatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  // What is printed reads back as the same double.
  for (double value : {0.1, 1.0 / 3.0, 2.5e-9, 6.02214076e23}) {
    CHECK(std::stod(FormatValue(value)) == value);
  }
}

TEST_CASE("A family used without a declaration renders without HELP and TYPE") {
  Registry registry;
  registry.Set("undeclared", {}, 1);
  CHECK(registry.Render() == "undeclared 1\n");
  CHECK_FALSE(registry.Declared("undeclared"));
}

TEST_CASE("A second declaration does not change the first") {
  Registry registry;
  registry.Declare("x_total", Type::kCounter, "first");
  registry.Declare("x_total", Type::kGauge, "second");
  CHECK(registry.Render() == "# HELP x_total first\n# TYPE x_total counter\n");
  CHECK(registry.Declared("x_total"));
}

TEST_CASE("Collectors run at every render and may set values") {
  Registry registry;
  registry.Declare("renders", Type::kGauge, "Renders so far.");
  int renders = 0;
  registry.AddCollector([&renders](Registry& r) { r.Set("renders", {}, ++renders); });
  CHECK(registry.Render().find("renders 1\n") != std::string::npos);
  CHECK(registry.Render().find("renders 2\n") != std::string::npos);
  CHECK(registry.Get("renders") == Approx(2));
  CHECK_FALSE(registry.Get("renders", {{"a", "b"}}).has_value());
  CHECK_FALSE(registry.Get("missing").has_value());
}

TEST_CASE("Increments from several threads are all counted") {
  Registry registry;
  registry.Declare("hits_total", Type::kCounter, "Hits.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, t] {
      for (int i = 0; i < 10000; ++i) {
        registry.Increment("hits_total", {{"thread", std::to_string(t % 2)}});
        if (i % 1000 == 0) (void)registry.Render();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(registry.Get("hits_total", {{"thread", "0"}}) == Approx(20000));
  CHECK(registry.Get("hits_total", {{"thread", "1"}}) == Approx(20000));
}

TEST_CASE("DeltaTracker turns readings into increments and survives a source that restarts") {
  DeltaTracker tracker;
  CHECK(tracker.Next(0) == 0);
  CHECK(tracker.Next(5) == 5);
  CHECK(tracker.Next(5) == 0);
  CHECK(tracker.Next(12) == 7);
  CHECK(tracker.Next(3) == 3);  // the source started over (a new sampler)
  CHECK(tracker.Next(4) == 1);
}

TEST_CASE("promtool rejects what the registry must never produce") {
  // The checks above can fail: an undeclared family, or a bad escape, makes promtool exit non-zero.
  std::string output;
  CHECK(PromtoolCheck("undeclared_total 1\n", &output) != 0);
  CHECK(output.find("no help text") != std::string::npos);
  CHECK(PromtoolCheck("# HELP x X.\n# TYPE x gauge\nx{a=\"\\q\"} 1\n", &output) != 0);
}

TEST_CASE("Every metric pprofd declares passes promtool's lint") {
  Registry registry;
  InstallAgentMetrics(registry);
  InstallAgentMetrics(registry);  // a second call adds nothing
  DeclareProfilerMetrics(registry);
  registry.Increment(kHttpRequests, {{"endpoint", "profile"}, {"code", "200"}});
  registry.Increment(kUnwindFailures, {{"reason", "no_cfi"}}, 3);
  registry.Set(kTargetPid, {}, 1234);
  registry.Declare(kTargetPid, Type::kGauge, "PID of the target.");
  const std::string text = registry.Render();
  INFO(text);
  std::string output;
  const int exit_code = PromtoolCheck(text, &output);
  INFO("promtool: " << output);
  CHECK(exit_code == 0);
  CHECK(output.empty());  // not even a lint warning
  CHECK(text.find("pprofd_build_info{version=\"") != std::string::npos);
}

}  // namespace pprofd::metrics
