// Off-CPU overhead workload: two threads ping-pong one byte over two pipes, so every round trip
// is two voluntary sleeps and two wake-ups (four context switches when both sides really sleep).
// Usage:
//   pingpong_workload [round_trips=200000]   runs once, prints ns per round trip
//   pingpong_workload serve                  prints "ready", then per line "run N" answers
//                                            "ns <total ns>" and "done" (benchmark drivers)
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void ReadByte(int fd) {
  char byte;
  if (read(fd, &byte, 1) != 1) {
    std::perror("pingpong read");
    std::exit(1);
  }
}

void WriteByte(int fd) {
  char byte = 'x';
  if (write(fd, &byte, 1) != 1) {
    std::perror("pingpong write");
    std::exit(1);
  }
}

// Returns the wall time of `round_trips` round trips.
int64_t PingPong(uint64_t round_trips) {
  int ping[2], pong[2];
  if (pipe(ping) != 0 || pipe(pong) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  std::thread echo([&] {
    for (uint64_t i = 0; i < round_trips; ++i) {
      ReadByte(ping[0]);
      WriteByte(pong[1]);
    }
  });
  const int64_t start = MonotonicNs();
  for (uint64_t i = 0; i < round_trips; ++i) {
    WriteByte(ping[1]);
    ReadByte(pong[0]);
  }
  const int64_t elapsed = MonotonicNs() - start;
  echo.join();
  for (int fd : {ping[0], ping[1], pong[0], pong[1]}) close(fd);
  return elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "serve") == 0) {
    std::printf("ready\n");
    std::fflush(stdout);
    std::string command;
    uint64_t n = 0;
    while (std::cin >> command) {
      if (command == "quit") break;
      if (command == "run" && std::cin >> n) {
        std::printf("ns %lld\ndone\n", static_cast<long long>(PingPong(n)));
      } else {
        std::printf("error unknown command %s\ndone\n", command.c_str());
      }
      std::fflush(stdout);
    }
    return 0;
  }
  const uint64_t round_trips = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const int64_t elapsed = PingPong(round_trips);
  std::printf("%llu round trips in %.3f s: %.0f round trips/s, %.0f ns per round trip\n",
              static_cast<unsigned long long>(round_trips), elapsed / 1e9,
              round_trips * 1e9 / static_cast<double>(elapsed),
              static_cast<double>(elapsed) / static_cast<double>(round_trips));
  return 0;
}
