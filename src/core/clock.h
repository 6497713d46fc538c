// MonotonicMs: milliseconds of CLOCK_MONOTONIC, for deadlines and intervals in
// every process (master, workers, health checker). Not wall time.
#pragma once

#include <time.h>

#include <cstdint>

namespace drover::core {

inline int64_t MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The same clock read from the kernel's last tick (a few ms behind at most),
// without reading the TSC: for ages measured in seconds, where that error is nothing.
inline int64_t CoarseMonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace drover::core
