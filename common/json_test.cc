#include "common/json.h"

#include <limits>

#include "gtest/gtest.h"

namespace datapool {
namespace {

TEST(JsonTest, WriterPlacesCommasAndEscapes) {
  JsonWriter w;
  // clang-format off
  w.BeginObject()
      .Key("a").Int(-3)
      .Key("s").String("q\"\\\n\x01")
      .Key("l").BeginArray().UInt(1).Double(0.5).Null().Bool(true).EndArray()
      .Key("inf").Double(std::numeric_limits<double>::infinity())
      .EndObject();
  // clang-format on
  EXPECT_EQ(w.str(),
            R"({"a":-3,"s":"q\"\\\n\u0001","l":[1,0.5,null,true],"inf":null})");
}

TEST(JsonTest, ParseRoundTrip) {
  JsonWriter w;
  // clang-format off
  w.BeginObject().Key("name").String("p\"x\u00e9").Key("n").Double(0.1)
      .Key("b").Bool(false).Key("arr").BeginArray().Int(1).EndArray().EndObject();
  // clang-format on
  auto v = ParseJson(w.str());
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->type, JsonValue::Type::kObject);
  EXPECT_EQ(v->Find("name")->string, "p\"x\u00e9");
  EXPECT_EQ(v->Find("n")->number, 0.1);
  EXPECT_EQ(v->Find("b")->type, JsonValue::Type::kBool);
  EXPECT_FALSE(v->Find("b")->boolean);
  EXPECT_EQ(v->Find("arr")->array.size(), 1u);
  EXPECT_EQ(v->Find("missing"), nullptr);
}

TEST(JsonTest, ParsesUnicodeEscapeAndTrue) {
  auto v = ParseJson(R"( {"t": true, "u": "\u00e9"} )");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->Find("t")->boolean);
  EXPECT_EQ(v->Find("u")->string, "\xc3\xa9");
}

TEST(JsonTest, RejectsMalformed) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"abc",
                          "nul", "{\"a\" 1}"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
  std::string deep(100, '[');
  EXPECT_FALSE(ParseJson(deep).ok());
}

}  // namespace
}  // namespace datapool
