#include "agent/http/pprof_routes.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "agent/http/query.h"
#include "agent/http/symbol_protocol.h"
#include "base/log.h"

namespace pprofd::http {

namespace beast_http = boost::beast::http;
using beast_http::field;
using beast_http::status;
using beast_http::verb;

namespace {

constexpr std::string_view kPrefix = "/debug/pprof/";
// Go's default for /profile; clamped to the backend's maximum.
constexpr int kDefaultSeconds = 30;

// How an endpoint reads ?seconds.
enum class Seconds {
  kIgnored,   // a snapshot: no window
  kWindow,    // always a window: default 30 s (Go's default for /profile), clamped to the maximum
  kOptional,  // none: the profile as it stands (since tracking began); N: the next N seconds
};

// How a profile endpoint reads its query; a row per path, so a new kind of profile is a new row.
struct ProfileParams {
  Seconds seconds;
  int max_debug;  // 0: no text form
  bool hz;        // reads ?hz (the CPU sampling rate)
  // Whether a window (?seconds=N) has a text form too (heap deltas have none, off-CPU windows
  // do).
  bool window_text = true;
};

struct Endpoint {
  std::string_view name;
  std::string_view link;  // relative to /debug/pprof/
  std::string_view description;
  std::optional<ProfileParams> profile;  // nullopt: cmdline, symbol
};

// What the index lists, what a 404 names, and how each profile path reads its query.
const Endpoint kEndpoints[] = {
    {"profile", "profile?seconds=30",
     "CPU profile of the target. Add ?seconds=N (default 30) and ?hz=M for the sampling rate. "
     "Fetch it with go tool pprof, then use the top command or the web view.",
     ProfileParams{Seconds::kWindow, 0, true}},
    {"heap", "heap?debug=1",
     "Estimate of the target's live heap, by allocation site, from sampled malloc calls "
     "(pprofd --heap tracks from start-up; ?seconds=N gives the allocations of the next N "
     "seconds). Use -sample_index=alloc_space for everything allocated.",
     ProfileParams{Seconds::kOptional, 2, false, false}},
    {"allocs", "allocs?debug=1",
     "The same data as heap, showing all allocations (alloc_space) by default.",
     ProfileParams{Seconds::kOptional, 2, false, false}},
    {"threads", "threads?debug=2",
     "Stack traces of all the target's threads, taken without stopping it: where each one runs "
     "or waits (kernel frames on top). ?debug=1 groups identical stacks; ?debug=2 is a "
     "per-thread dump to read in a terminal.",
     ProfileParams{Seconds::kIgnored, 2, false}},
    {"goroutine", "goroutine?debug=1",
     "The same as threads, for Go habits, with Go's sample type goroutine/count.",
     ProfileParams{Seconds::kIgnored, 2, false}},
    {"block", "block?debug=1",
     "Where the target's threads were blocked (off CPU: sleeps, I/O, locks), with the time they "
     "waited: since start-up with pprofd --block (empty without it, as Go's with no rate set), "
     "or during the next ?seconds=N.",
     ProfileParams{Seconds::kOptional, 1, false}},
    {"mutex", "mutex?debug=1",
     "Time the target's threads waited on futexes (contended mutexes, condition variables), by "
     "the waiting stack: since start-up with pprofd --mutex (empty without it), or during the "
     "next ?seconds=N.",
     ProfileParams{Seconds::kOptional, 1, false}},
    // godeltaprof's paths (github.com/grafana/pyroscope-go/godeltaprof): what changed since the
    // previous call of the same path; scrapers store them as they come, without a delta step.
    {"delta_heap", "delta_heap",
     "godeltaprof's heap profile: allocations since the previous call of this path (in-use as "
     "of now); needs pprofd --heap.",
     ProfileParams{Seconds::kIgnored, 0, false}},
    {"delta_block", "delta_block",
     "godeltaprof's block profile: waits since the previous call of this path; needs pprofd "
     "--block.",
     ProfileParams{Seconds::kIgnored, 0, false}},
    {"delta_mutex", "delta_mutex",
     "godeltaprof's mutex profile: futex waits since the previous call of this path; needs "
     "pprofd --mutex.",
     ProfileParams{Seconds::kIgnored, 0, false}},
    {"cmdline", "cmdline", "The target's command line, arguments separated by NUL bytes.",
     std::nullopt},
    {"symbol", "symbol",
     "Looks up program counters posted as 0xADDR+0xADDR; pprof calls it for mappings it cannot "
     "symbolize itself.",
     std::nullopt},
};

const Endpoint* FindEndpoint(std::string_view name) {
  for (const Endpoint& endpoint : kEndpoints) {
    if (endpoint.name == name) return &endpoint;
  }
  return nullptr;
}

// Whether `endpoint` is served under these options.
bool Served(const Endpoint& endpoint, const PprofRoutesOptions& options) {
  return options.cmdline || endpoint.name != "cmdline";
}

std::string KnownNames(const PprofRoutesOptions& options) {
  std::string names;
  for (const Endpoint& endpoint : kEndpoints) {
    if (!Served(endpoint, options)) continue;
    if (!names.empty()) names += ", ";
    names += endpoint.name;
  }
  return names;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Response MethodNotAllowed(const Request& request, std::string_view allow) {
  Response response =
      PprofError(status::method_not_allowed,
                 StrCat("method ", request.method_string(), " not allowed here; use ", allow));
  response.set(field::allow, std::string(allow));
  return response;
}

Response Index(const Request& request, const PprofRoutesOptions& options) {
  std::string host(request[field::host]);
  if (host.empty()) host = "localhost:6060";
  std::string html =
      "<!DOCTYPE html>\n<html>\n<head>\n<title>/debug/pprof/</title>\n"
      "<style>td { padding: 0.2em 1em; vertical-align: top; }</style>\n</head>\n<body>\n"
      "<h1>/debug/pprof/</h1>\n"
      "<p>Profiles of a native process, served by pprofd in the format of Go's "
      "net/http/pprof.</p>\n<table>\n";
  for (const Endpoint& endpoint : kEndpoints) {
    if (!Served(endpoint, options)) continue;
    html += StrCat("<tr><td><a href=\"", HtmlEscape(endpoint.link), "\">", endpoint.name,
                   "</a></td><td>", HtmlEscape(endpoint.description), "</td></tr>\n");
  }
  html +=
      StrCat("</table>\n<p>From a shell:</p>\n<pre>go tool pprof http://", HtmlEscape(host),
             "/debug/pprof/profile?seconds=30</pre>\n"
             "<p>Unlike Go, overlapping CPU profile requests all succeed.</p>\n</body>\n</html>\n");
  Response response(status::ok, 11);
  response.set(field::content_type, "text/html; charset=utf-8");
  response.set("X-Content-Type-Options", "nosniff");
  response.body() = std::move(html);
  return response;
}

status StatusFor(BackendErrorKind kind) {
  switch (kind) {
    case BackendErrorKind::kUnavailable:
      return status::service_unavailable;
    case BackendErrorKind::kBadRequest:
      return status::bad_request;
    case BackendErrorKind::kNotImplemented:
      return status::not_implemented;
    case BackendErrorKind::kInternal:
      break;
  }
  return status::internal_server_error;
}

// A body the backend produced: a gzipped profile to download, or text to read.
Response ProfileBody(std::string body, bool text, std::string_view filename) {
  Response response(status::ok, 11);
  if (text) {
    response.set(field::content_type, "text/plain; charset=utf-8");
  } else {
    response.set(field::content_type, "application/octet-stream");
    response.set(field::content_disposition, StrCat("attachment; filename=\"", filename, "\""));
  }
  response.set("X-Content-Type-Options", "nosniff");
  response.body() = std::move(body);
  return response;
}

// Reads the query as `params` says, and forwards one request to the backend.
void Profile(PprofBackend& backend, const Endpoint& endpoint, const QueryParams& query,
             const Cancellation& cancellation, Respond respond) {
  const ProfileParams& params = *endpoint.profile;
  ProfileRequest profile_request;
  profile_request.type = std::string(endpoint.name);
  profile_request.cancellation = cancellation;
  const int max_seconds = backend.max_seconds();
  if (params.seconds != Seconds::kIgnored) {
    const int fallback =
        params.seconds == Seconds::kWindow ? std::min(kDefaultSeconds, max_seconds) : 0;
    StatusOr<int> seconds = IntParam(query, "seconds", fallback, 1, max_seconds);
    if (!seconds.ok()) return respond(PprofError(status::bad_request, seconds.status().message()));
    profile_request.seconds = *seconds;
  }
  if (params.hz) {
    StatusOr<int> hz = IntParam(query, "hz", backend.default_hz(), 1, backend.max_hz());
    if (!hz.ok()) return respond(PprofError(status::bad_request, hz.status().message()));
    profile_request.hz = *hz;
  }
  if (params.max_debug > 0) {
    StatusOr<int> debug = IntParam(query, "debug", 0, 0, params.max_debug);
    if (!debug.ok()) return respond(PprofError(status::bad_request, debug.status().message()));
    profile_request.debug = *debug;
  }
  if (params.seconds == Seconds::kOptional && !params.window_text && profile_request.seconds > 0 &&
      profile_request.debug > 0) {
    return respond(PprofError(status::bad_request,
                              "a delta profile (seconds) has no text form: drop debug, or drop "
                              "seconds for the text form of the whole profile"));
  }
  backend.Profile(profile_request,
                  [respond = std::move(respond), text = profile_request.debug > 0,
                   filename = endpoint.name](StatusOr<std::string> profile, BackendErrorKind kind) {
                    if (!profile.ok())
                      return respond(PprofError(StatusFor(kind), profile.status().message()));
                    respond(ProfileBody(std::move(*profile), text, filename));
                  });
}

void Symbol(PprofBackend& backend, const Request& request, const RequestTarget& target,
            Respond respond) {
  // As Go: POST carries the addresses in the body, GET in the raw query.
  const std::string_view input =
      request.method() == verb::post ? std::string_view(request.body()) : target.raw_query;
  StatusOr<std::vector<uint64_t>> addresses = ParseSymbolAddresses(input);
  if (!addresses.ok()) {
    return respond(PprofError(status::bad_request, addresses.status().message()));
  }
  if (addresses->empty()) {
    return respond(TextResponse(status::ok, FormatSymbolReply({}, {})));
  }
  std::vector<uint64_t> wanted = *addresses;
  backend.LookupSymbols(*addresses, [respond = std::move(respond),
                                     wanted = std::move(wanted)](std::vector<std::string> names) {
    if (names.size() != wanted.size()) {
      return respond(PprofError(status::internal_server_error,
                                StrCat("symbol lookup returned ", names.size(), " names for ",
                                       wanted.size(), " addresses")));
    }
    respond(TextResponse(status::ok, FormatSymbolReply(wanted, names)));
  });
}

void Cmdline(PprofBackend& backend, Respond respond) {
  StatusOr<std::string> cmdline = backend.Cmdline();
  if (!cmdline.ok()) {
    // argv is unreadable only when the target is gone or being replaced.
    return respond(PprofError(status::service_unavailable, cmdline.status().message()));
  }
  Response response(status::ok, 11);
  response.set(field::content_type, "text/plain; charset=utf-8");
  response.set("X-Content-Type-Options", "nosniff");
  response.body() = std::move(*cmdline);  // NUL-joined, no newline added (as Go).
  respond(std::move(response));
}

}  // namespace

bool IsPprofEndpoint(std::string_view name) { return FindEndpoint(name) != nullptr; }

bool IsProfileEndpoint(std::string_view name) {
  const Endpoint* endpoint = FindEndpoint(name);
  return endpoint != nullptr && endpoint->profile.has_value();
}

void PprofRoutes::operator()(const Request& request, Respond respond) const {
  StatusOr<RequestTarget> target =
      ParseRequestTarget(std::string_view(request.target().data(), request.target().size()));
  if (!target.ok()) return respond(PprofError(status::bad_request, target.status().message()));
  const std::string& path = target->path;

  if (path == "/debug/pprof") {
    Response response = TextResponse(status::moved_permanently, "moved to /debug/pprof/");
    response.set(field::location, std::string(kPrefix));
    return respond(std::move(response));
  }
  if (!path.starts_with(kPrefix)) {
    return respond(
        TextResponse(status::not_found, StrCat("not found: ", path.substr(0, 100),
                                               "; pprofd serves profiles under /debug/pprof/")));
  }

  const std::string_view name = std::string_view(path).substr(kPrefix.size());
  const verb method = request.method();
  const bool get_or_head = method == verb::get || method == verb::head;
  if (name.empty()) {
    if (!get_or_head) return respond(MethodNotAllowed(request, "GET, HEAD"));
    return respond(Index(request, options_));
  }
  if (const Endpoint* endpoint = FindEndpoint(name); endpoint && endpoint->profile) {
    if (!get_or_head) return respond(MethodNotAllowed(request, "GET, HEAD"));
    return Profile(*backend_, *endpoint, target->query, request.cancellation(), std::move(respond));
  }
  if (name == "cmdline") {
    if (!get_or_head) return respond(MethodNotAllowed(request, "GET, HEAD"));
    if (!options_.cmdline) {
      return respond(PprofError(status::forbidden,
                                "cmdline is disabled by --no-cmdline (the target's arguments may "
                                "hold secrets); restart pprofd without it to serve them"));
    }
    return Cmdline(*backend_, std::move(respond));
  }
  if (name == "symbol") {
    if (!get_or_head && method != verb::post) {
      return respond(MethodNotAllowed(request, "GET, HEAD, POST"));
    }
    return Symbol(*backend_, request, *target, std::move(respond));
  }
  std::string shown(name.substr(0, 60));
  for (char& c : shown) {
    if (c < 0x20 || c == 0x7f) c = '?';
  }
  return respond(
      PprofError(status::not_found, StrCat("unknown profile \"", shown, "\": pprofd serves ",
                                           KnownNames(options_), " (see /debug/pprof/)")));
}

}  // namespace pprofd::http
