// drover-bench's main(): Google Benchmark with a short default
// --benchmark_min_time (0.1 s per benchmark) so that `make bench` finishes
// well under two minutes on a small machine. Any --benchmark_min_time given on
// the command line (or BENCH_ARGS in `make bench BENCH_ARGS=...`) wins.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  bool has_min_time = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--benchmark_min_time", 20) == 0) {
      has_min_time = true;
    }
  }
  static char default_min_time[] = "--benchmark_min_time=0.1";
  if (!has_min_time) {
    args.insert(args.begin() + 1, default_min_time);
  }
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
