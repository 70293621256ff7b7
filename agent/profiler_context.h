// What the per-kind profilers (heap, threads, off-CPU) borrow from the profiler service: they all
// run on its thread and share its unwinder and symbolizer, so a frame is symbolized once for every
// kind of profile.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/profiles/frame_symbolizer.h"
#include "agent/profiles/stack_normalizer.h"

namespace pprofd {

struct ProfilerContext {
  boost::asio::io_context* io = nullptr;
  profiles::StackNormalizer* normalizer = nullptr;
  profiles::FrameSymbolizer* symbolizer = nullptr;
  std::function<std::optional<uint32_t>()> main_module;
  std::function<void()> schedule_drain;  // keeps the drain timer running while attached
  std::string target_description;        // "PID 123 (/usr/bin/app)"
};

}  // namespace pprofd
