#include "common/json_text.h"

#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(JsonTextTest, WritesCompactInOrderAndEscapes) {
  Json j;
  j["z"] = -3;
  j["s"] = "q\"\\\n\x01";
  j["l"] = Json::array({1u, 0.5, nullptr, true});
  j["inf"] = std::numeric_limits<double>::infinity();
  j["nan"] = std::numeric_limits<double>::quiet_NaN();
  // Members in the order added (not sorted), no spaces.
  EXPECT_EQ(
      JsonText(j),
      R"({"z":-3,"s":"q\"\\\n\u0001","l":[1,0.5,null,true],"inf":null,"nan":null})");
}

TEST(JsonTextTest, WritingBytesThatAreNotUtf8DoesNotThrow) {
  Json j = {{"name", std::string("a\xff"
                                 "b")}};
  EXPECT_EQ(JsonText(j),
            "{\"name\":\"a\xef\xbf\xbd"
            "b\"}");
}

TEST(JsonTextTest, ParseRoundTrip) {
  Json j;
  j["name"] = "p\"x\u00e9";
  j["n"] = 0.1;
  j["b"] = false;
  j["arr"] = Json::array({1});
  absl::StatusOr<Json> v = ParseJson(JsonText(j));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, j);
  EXPECT_EQ(v->at("name").get<std::string>(), "p\"x\u00e9");
  EXPECT_EQ(v->at("n").get<double>(), 0.1);
  EXPECT_TRUE(v->at("b").is_boolean());
  EXPECT_EQ(v->at("arr").size(), 1u);
  EXPECT_FALSE(v->contains("missing"));
}

TEST(JsonTextTest, ParsesEscapesSurrogatePairsAndSpace) {
  absl::StatusOr<Json> v =
      ParseJson(" {\"t\": true, \"u\": \"\\u00e9\\ud83d\\ude00\\/\"}\n ");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->at("t").get<bool>());
  EXPECT_EQ(v->at("u").get<std::string>(), "\xc3\xa9\xf0\x9f\x98\x80/");
}

TEST(JsonTextTest, MalformedTextIsInvalidArgumentWithWhereAndWhy) {
  for (const char* bad :
       {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"abc", "nul", "{\"a\" 1}",
        "1e999", "{'a': 1}", "[1] // comment", "\"\xff\""}) {
    absl::StatusOr<Json> v = ParseJson(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    // The library's reason, without its exception id.
    const std::string message(v.status().message());
    EXPECT_THAT(message, StartsWith("JSON: ")) << bad;
    EXPECT_THAT(message, ::testing::Not(HasSubstr("json.exception")));
  }
  EXPECT_EQ(ParseJson("{\"a\" 1}").status().message(),
            "JSON: parse error at line 1, column 6: syntax error while "
            "parsing object separator - unexpected number literal; expected "
            "':'");
}

TEST(JsonTextTest, DeepNestingParsesWithoutRecursion) {
  // The library's parser and destructor use their own stacks.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  absl::StatusOr<Json> v = ParseJson(deep);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->is_array());
  EXPECT_FALSE(ParseJson(std::string(100000, '[')).ok());
}

TEST(JsonTextTest, FindsTheFirstKeyGivenTwiceWithItsPath) {
  std::string duplicate = "stale";
  absl::StatusOr<Json> v = ParseJson(
      R"({"a": [1, {"b": 1, "c": {}}, {"d": [{}, {"e": 1, "e": 2}]}],
          "a2": {"x": 1, "x": 3}})",
      &duplicate);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(duplicate, "a[2].d[1].e");
  // The last value is kept.
  EXPECT_EQ(v->at("a2").at("x"), 3);
  ASSERT_TRUE(
      ParseJson(R"({"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]})", &duplicate)
          .ok());
  EXPECT_EQ(duplicate, "");
  ASSERT_TRUE(ParseJson(R"({"k": 1, "k": 2})", &duplicate).ok());
  EXPECT_EQ(duplicate, "k");
}

}  // namespace
}  // namespace datapool
