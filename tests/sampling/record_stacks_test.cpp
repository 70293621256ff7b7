#include "agent/sampling/record_stacks.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <vector>

#include "cpu_sample_abi.h"
#include "heap_sample_abi.h"

namespace pprofd::sampling {
namespace {

// A record with `user_bytes` bytes of stack copy behind it, as the ring buffer delivers it.
std::vector<uint64_t> Buffer(size_t user_bytes) {
  return std::vector<uint64_t>((sizeof(pprofd_cpu_sample) + user_bytes + 7) / 8, 0);
}

TEST_CASE("The kernel stack is as long as its length says, within the array", "[sampling]") {
  auto buffer = Buffer(0);
  auto* sample = reinterpret_cast<pprofd_cpu_sample*>(buffer.data());
  sample->kernel_stack_len = 3 * 8;
  auto stack = KernelStackOf(*sample);
  CHECK(stack.data() == reinterpret_cast<const uint64_t*>(sample->kernel_stack));
  CHECK(stack.size() == 3);
  sample->kernel_stack_len = 1000 * 8;  // more than the array holds
  CHECK(KernelStackOf(*sample).size() == PPROFD_MAX_KERNEL_FRAMES);
  sample->kernel_stack_len = -EFAULT;  // the program could not read it
  CHECK(KernelStackOf(*sample).empty());
}

TEST_CASE("The user stack stops at the end of the record", "[sampling]") {
  auto buffer = Buffer(4096);
  auto* sample = reinterpret_cast<pprofd_cpu_sample*>(buffer.data());
  const size_t record_size = sizeof(pprofd_cpu_sample) + 4096;
  sample->user_stack_len = 100;
  CHECK(UserStackOf(*sample, record_size).size() == 100);
  CHECK(UserStackOf(*sample, record_size).data() == sample->user_stack);
  sample->user_stack_len = 65536;  // says more than was delivered
  CHECK(UserStackOf(*sample, record_size).size() == 4096);
  CHECK(UserStackOf(*sample, sizeof(pprofd_cpu_sample)).empty());
}

TEST_CASE("Records without a kernel stack have a user stack all the same", "[sampling]") {
  std::vector<uint64_t> buffer((sizeof(pprofd_heap_alloc_event) + 64) / 8, 0);
  auto* event = reinterpret_cast<pprofd_heap_alloc_event*>(buffer.data());
  event->user_stack_len = 64;
  CHECK(UserStackOf(*event, sizeof(pprofd_heap_alloc_event) + 64).size() == 64);
}

}  // namespace
}  // namespace pprofd::sampling
