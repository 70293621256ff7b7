// How profiles' comments and text forms write times and durations, in one place so every kind
// writes them alike.
#pragma once

#include <cstdint>
#include <string>

namespace pprofd::profiles {

// "2026-12-06T20:10:00Z" for a CLOCK_REALTIME time in nanoseconds.
std::string Rfc3339(int64_t wall_ns);
// "850.0 ms", "12.34 s", "5 min 12 s", "3 h 7 min": a duration for people to read (how long a
// thread has been off its CPU).
std::string HumanDuration(uint64_t ns);
// "1.250 s", "3.100 ms", "12.5 us": a wait or a rate, down to microseconds.
std::string PreciseDuration(uint64_t ns);
// Always in milliseconds with two decimals: "0.42 ms".
std::string Milliseconds(int64_t ns);

}  // namespace pprofd::profiles
