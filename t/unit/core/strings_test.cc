// core::AppendUint (core/strings.h); the parsing helpers are covered through the
// config tests.
#include "core/strings.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace drover::core {
namespace {

TEST(CoreStrings, AppendUintAppendsDecimal) {
  std::string s = "n=";
  AppendUint(0, &s);
  EXPECT_EQ(s, "n=0");
  s.clear();
  AppendUint(200, &s);
  s.push_back(' ');
  AppendUint(1234567890123ull, &s);
  EXPECT_EQ(s, "200 1234567890123");
  s.clear();
  AppendUint(UINT64_MAX, &s);
  EXPECT_EQ(s, "18446744073709551615");
}

}  // namespace
}  // namespace drover::core
