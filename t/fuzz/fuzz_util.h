// Helpers shared by the libFuzzer targets in t/fuzz (built by `make fuzz` with
// clang -fsanitize=fuzzer,address,undefined). Test code only: never linked into
// drover. A failed property calls Check(), which aborts so that libFuzzer saves
// the input as a crash.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace drover::fuzz {

// Aborts with a message when `ok` is false (a property violation is a crash).
inline void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "fuzz property violated: %s\n", what);
    abort();
  }
}

// A heap copy of exactly `n` bytes, so that ASan reports any read past the end
// of a prefix (the fuzzer's own buffer only guards the end of the whole input).
class ExactCopy {
 public:
  ExactCopy(const char* p, size_t n) : buf_(new char[n == 0 ? 1 : n]), n_(n) {
    if (n != 0) {
      memcpy(buf_.get(), p, n);
    }
  }
  const char* data() const { return buf_.get(); }
  size_t size() const { return n_; }

 private:
  std::unique_ptr<char[]> buf_;
  size_t n_;
};

// True when view `v` lies inside [base, base + n).
inline bool Inside(std::string_view v, const char* base, size_t n) {
  if (v.empty()) {
    return true;
  }
  return v.data() >= base && v.data() + v.size() <= base + n;
}

// Offsets at which to split an input: all of them for small inputs; for
// bigger ones about 32 spread evenly, the last 8, and the offsets at and after
// the first 64 line feeds (where line framing changes state). Bounds the work
// per input so that the fuzzer keeps a useful rate.
template <typename Fn>
void ForEachSplit(const char* p, size_t n, Fn fn) {
  if (n <= 96) {
    for (size_t k = 0; k < n; ++k) {
      fn(k);
    }
    return;
  }
  const size_t step = n / 32;
  for (size_t k = 0; k < n; k += step) {
    fn(k);
  }
  for (size_t k = n - 8; k < n; ++k) {
    fn(k);
  }
  int lfs = 0;
  for (const char* q = p; lfs < 64;) {
    q = static_cast<const char*>(memchr(q, '\n', static_cast<size_t>(p + n - q)));
    if (q == nullptr) {
      break;
    }
    const size_t k = static_cast<size_t>(q - p);
    fn(k);
    if (k + 1 < n) {
      fn(k + 1);
    }
    ++lfs;
    ++q;
  }
}

}  // namespace drover::fuzz
