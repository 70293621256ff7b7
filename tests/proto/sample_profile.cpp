#include "tests/proto/sample_profile.h"

namespace pprofd::proto::testing {

void BuildSampleProfile(ProfileBuilder* builder) {
  builder->AddSampleType("samples", "count");
  builder->AddSampleType("cpu", "nanoseconds");
  builder->SetPeriod("cpu", "nanoseconds", 10'000'000);
  builder->SetTime(1'700'000'000'000'000'000, 5'000'000'000);
  builder->SetDefaultSampleType("cpu");
  builder->AddComment("pprofd test profile");
  builder->AddComment("lost samples: 0");

  uint64_t main_map = builder->AddMapping({.memory_start = 0x400000,
                                           .memory_limit = 0x500000,
                                           .file_offset = 0,
                                           .filename = kMainBinary,
                                           .build_id = kMainBuildId,
                                           .has_functions = true,
                                           .has_filenames = true,
                                           .has_line_numbers = true,
                                           .has_inline_frames = true});
  uint64_t libc_map = builder->AddMapping({.memory_start = 0x7f0000000000,
                                           .memory_limit = 0x7f0000200000,
                                           .file_offset = 0x28000,
                                           .filename = "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                           .build_id = "feedfacefeedface",
                                           .has_functions = true,
                                           .has_filenames = true,
                                           .has_line_numbers = true,
                                           .has_inline_frames = true});
  // A mapping without symbols: only functions, as for a stripped library.
  uint64_t stripped_map = builder->AddMapping({.memory_start = 0x7f1000000000,
                                               .memory_limit = 0x7f1000010000,
                                               .file_offset = 0,
                                               .filename = "/opt/lib/libstripped.so",
                                               .build_id = "abad1dea",
                                               .has_functions = true});

  // Leaf location with an inline chain: innermost first.
  uint64_t leaf = builder->AddLocation(main_map, 0x401234,
                                       {{.function = "ns::InlinedLeaf(int)",
                                         .system_name = "_ZN2ns11InlinedLeafEi",
                                         .filename = "src/leaf.h",
                                         .start_line = 10,
                                         .line = 12},
                                        {.function = "ns::InlinedMiddle()",
                                         .system_name = "_ZN2ns13InlinedMiddleEv",
                                         .filename = "src/middle.h",
                                         .start_line = 20,
                                         .line = 25},
                                        {.function = "OuterCaller",
                                         .system_name = "OuterCaller",
                                         .filename = "src/outer.cc",
                                         .start_line = 30,
                                         .line = 33}});
  uint64_t main_fn = builder->AddLocation(main_map, 0x400800,
                                          {{.function = "main",
                                            .system_name = "main",
                                            .filename = "src/main.cc",
                                            .start_line = 5,
                                            .line = 7}});
  uint64_t libc_start = builder->AddLocation(libc_map, 0x7f0000029d90,
                                             {{.function = "__libc_start_call_main",
                                               .system_name = "__libc_start_call_main",
                                               .filename = "../sysdeps/nptl/libc_start_call_main.h",
                                               .start_line = 29,
                                               .line = 58}});
  uint64_t memcpy_loc = builder->AddLocation(
      libc_map, 0x7f00001a0000,
      {{.function = "__memcpy_avx_unaligned_erms", .system_name = "__memcpy_avx_unaligned_erms"}});
  uint64_t stripped =
      builder->AddLocation(stripped_map, 0x7f1000000400, {{.function = "libstripped.so+0x400"}});
  // Another address in OuterCaller, not inlined: reuses OuterCaller's function.
  uint64_t outer_direct = builder->AddLocation(main_map, 0x401300,
                                               {{.function = "OuterCaller",
                                                 .system_name = "OuterCaller",
                                                 .filename = "src/outer.cc",
                                                 .start_line = 30,
                                                 .line = 40}});
  // A pseudo-frame without mapping, as the unwinder reports truncated stacks.
  uint64_t truncated = builder->AddLocation(0, 0, {{.function = "[truncated]"}});

  builder->AddSample({leaf, main_fn, libc_start}, {3, 30'000'000},
                     {{.key = "thread_id", .num = 4242, .num_unit = "id"},
                      {.key = "thread_name", .str = "worker-1"}});
  builder->AddSample(
      {memcpy_loc, outer_direct, main_fn, libc_start}, {2, 20'000'000},
      {{.key = "thread_id", .num = 4243}, {.key = "thread_name", .str = "worker-2"}});
  builder->AddSample({stripped, truncated}, {1, 10'000'000},
                     {{.key = "thread_id", .num = 4242, .num_unit = "id"},
                      {.key = "thread_name", .str = "worker-1"}});
}

}  // namespace pprofd::proto::testing
