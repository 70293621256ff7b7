// Routes libbpf's own output (the verifier's error among it) through the agent's logger.
#pragma once

namespace pprofd::libbpf {

void RouteLibbpfLogsToLogger();

}  // namespace pprofd::libbpf
