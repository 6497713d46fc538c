// The status module's JSON parser and writer, and its text helpers.
#include <gtest/gtest.h>

#include "status/json.h"
#include "status/text.h"

namespace drover::status {
namespace {

TEST(StatusJson, ParsesNestedValues) {
  auto v = json::Parse(R"( {"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00\n"],
                           "b": {}, "c": [], "a2": 0} )");
  ASSERT_TRUE(v.ok()) << v.status().message();
  const json::Value* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 6u);
  EXPECT_EQ(a->items[0].text, "1");
  EXPECT_EQ(a->items[1].text, "-2.5e3");
  EXPECT_TRUE(a->items[2].boolean);
  EXPECT_EQ(a->items[4].type, json::Value::Type::kNull);
  EXPECT_EQ(a->items[5].text, "x\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_TRUE(v->Find("b")->is_object());
  EXPECT_EQ(v->Find("c")->type, json::Value::Type::kArray);
  EXPECT_EQ(v->Find("zz"), nullptr);
}

TEST(StatusJson, RejectsInvalid) {
  for (const char* bad :
       {"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "01", "1.", "-", "+1", "tru",
        "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "{} {}", "{'a':1}", "\"\xff\"",
        "\"\xc0\x80\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}) {
    EXPECT_FALSE(json::Parse(bad).ok()) << bad;
  }
  auto r = json::Parse("{\"a\" 1}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "json: offset 5: expected ':'");
}

TEST(StatusJson, WriterEscapesAndRoundTrips) {
  std::string s = std::string("q\"b\\s/<tag>&\x01\x7f\n\t\xc3\xa9\xff");
  std::string q = json::Quote(s);
  EXPECT_EQ(q, "\"q\\\"b\\\\s/\\u003ctag\\u003e\\u0026\\u0001\\u007f\\n\\t\xc3\xa9\\ufffd\"");
  auto back = json::Parse(q);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->text, std::string("q\"b\\s/<tag>&\x01\x7f\n\t\xc3\xa9\xef\xbf\xbd"));
}

TEST(StatusText, FormsAndEscapes) {
  auto f = ParseForm("a=1&b=x+y%21&a=2&&flag&e=");
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->size(), 5u);
  EXPECT_EQ(*FormGet(*f, "a"), "2");
  EXPECT_EQ(*FormGet(*f, "b"), "x y!");
  EXPECT_EQ(*FormGet(*f, "flag"), "");
  EXPECT_EQ(*FormGet(*f, "e"), "");
  EXPECT_EQ(FormGet(*f, "z"), nullptr);
  EXPECT_FALSE(ParseForm("a=%2").has_value());
  EXPECT_FALSE(ParseForm("a=%zz").has_value());
  EXPECT_FALSE(ParseForm("a=%00").has_value());
  std::string out;
  EXPECT_TRUE(PercentDecode("a+b%2F", false, &out));
  EXPECT_EQ(out, "a+b/");
  EXPECT_EQ(PercentEncode("http://a:1/x y"), "http%3A%2F%2Fa%3A1%2Fx%20y");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(PromEscape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(StatusText, Numbers) {
  EXPECT_EQ(FormatHundredths(100), "1");
  EXPECT_EQ(FormatHundredths(150), "1.5");
  EXPECT_EQ(FormatHundredths(225), "2.25");
  EXPECT_EQ(FormatHundredths(5), "0.05");
  EXPECT_EQ(FormatHundredths(10000), "100");
  EXPECT_EQ(FormatHundredths(-150), "-1.5");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(FormatTimeUtc(0), "");
  EXPECT_EQ(FormatTimeUtc(1700000000123), "2023-11-14 22:13:20Z");
  EXPECT_EQ(FormatDouble(3), "3");
  EXPECT_EQ(FormatDouble(12.5), "12.5");
  EXPECT_EQ(FormatDouble(1699999998.5), "1699999998.5");
}

}  // namespace
}  // namespace drover::status
