#include "tests/kinds/offcpu/sampler/offcpu_test_support.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pprofd::sampling::testing {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "off-CPU test support: %s\n", message.c_str());
  std::abort();
}

}  // namespace

OffCpuTarget::OffCpuTarget() : CommandChild(OFFCPU_TARGET) {}

int64_t Field(const std::vector<std::string>& lines, const std::string& key) {
  for (const std::string& line : lines) {
    if (line.rfind(key + " ", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  Fail("no line '" + key + " ...' in the workload's answer");
}

std::vector<Record> DrainAll(OffCpuSampler& sampler) {
  std::vector<Record> records;
  auto on_event = [&](const RawOffCpuEvent& raw) {
    Record record;
    const pprofd_offcpu_event& e = *raw.header;
    record.kind = e.kind;
    record.tid = e.tid;
    record.delay_ns = e.delay_ns;
    record.end_ns = e.end_ns;
    record.ip = e.ip;
    record.sp = e.sp;
    record.bp = e.bp;
    record.flags = e.flags;
    record.kernel_stack_len = e.kernel_stack_len;
    record.comm.assign(e.comm, strnlen(e.comm, sizeof(e.comm)));
    record.kernel_stack.assign(raw.kernel_stack.begin(), raw.kernel_stack.end());
    record.user_stack.assign(raw.user_stack.begin(), raw.user_stack.end());
    records.push_back(std::move(record));
  };
  while (sampler.Drain(on_event) > 0) {
  }
  return records;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

StackNames::StackNames(pid_t pid)
    : address_space_(pid, &cache_),
      unwinder_(&address_space_),
      normalizer_(&address_space_, &unwinder_) {
  if (!address_space_.Refresh().ok()) Fail("read the maps of the workload");
  auto kernel = symbolizer::KernelSymbols::Load();
  if (!kernel.ok()) Fail("kallsyms: " + kernel.status().message());
  kernel_symbols_ = std::move(*kernel);
  symbolizer_ = std::make_unique<profiles::FrameSymbolizer>(&normalizer_, &*kernel_symbols_);
}

std::vector<std::string> StackNames::Functions(const Record& record, bool kernel) {
  symbolizer::UserRegisters regs{record.ip, record.sp, record.bp};
  symbolizer::StackCopy stack{record.sp, record.user_stack};
  // ip follows the system call instruction: the state there is exact, not a return address.
  profiles::Stack frames = normalizer_.Normalize(
      regs, stack, record.kernel_stack, profiles::StackNormalizer::LeafKind::kInterruptedPc);
  std::vector<std::string> names;
  for (const profiles::Frame& frame : frames) {
    if ((frame.module == profiles::kKernelModule) != kernel) continue;
    for (const proto::LineInfo& line : symbolizer_->Lines(frame)) names.push_back(line.function);
  }
  return names;
}

}  // namespace pprofd::sampling::testing
