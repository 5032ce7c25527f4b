#include "common/csv_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;

EmbeddingTable Sample() {
  EmbeddingTable t;
  t.dimension = 3;
  t.filenames = {"a.jpg", "dir/b,c.jpg", "say \"hi\".png", "line\nbreak.jpg",
                 " padded .jpg"};
  t.values = {0.1f, -0.2f, 0.3f, 1e-30f, 3.4e38f, -0.0f, 1.0f / 3, 2.0f / 3,
              0.5f, 7.f,   8.f,  9.f,    -1.f,    -2.f,  -3.f};
  t.labels = {0, 1, 2, -5, 1234567890123};
  return t;
}

TEST(CsvCodecTest, RoundTripIsBitExact) {
  EmbeddingTable t = Sample();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : t.values) v = v * u(rng) + u(rng) * 1e-7f;
  std::string text;
  AppendCsv(t, &text);
  auto parsed = ParseCsv(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->dimension, 3u);
  EXPECT_EQ(parsed->filenames, t.filenames);
  EXPECT_EQ(parsed->labels, t.labels);
  ASSERT_EQ(parsed->values.size(), t.values.size());
  EXPECT_EQ(std::memcmp(parsed->values.data(), t.values.data(),
                        t.values.size() * sizeof(float)),
            0);
}

TEST(CsvCodecTest, HeaderAndQuotingFollowLightly) {
  std::string text;
  AppendCsv(Sample(), &text);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "filenames,embedding_0,embedding_1,embedding_2,labels");
  EXPECT_THAT(text, HasSubstr("\n\"dir/b,c.jpg\",1e-30,3.4e+38,-0,1\n"));
  EXPECT_THAT(text, HasSubstr("\n\"say \"\"hi\"\".png\","));
  EXPECT_THAT(text, HasSubstr("\n\"line\nbreak.jpg\","));
  EXPECT_THAT(text, HasSubstr("\na.jpg,0.1,-0.2,0.3,0\n"));
}

TEST(CsvCodecTest, ReadsCrLfAndSelectedMasked) {
  auto t = ParseCsv(
      "filenames,embedding_0,selected,masked,labels\r\n"
      "x,1.5,1,0,3\r\n"
      "\"y\",2,0,1,4\r\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->filenames, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t->values, (std::vector<float>{1.5f, 2.f}));
  EXPECT_EQ(t->selected, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(t->masked, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(t->labels, (std::vector<int64_t>{3, 4}));
  std::string again;
  AppendCsv(*t, &again);
  EXPECT_EQ(again.substr(0, again.find('\n')),
            "filenames,embedding_0,selected,masked,labels");
}

struct BadCase {
  const char* text;
  const char* message;
};

TEST(CsvCodecTest, ReadsAByteOrderMark) {
  // As spreadsheets save "CSV UTF-8".
  auto t = ParseCsv(
      "\xEF\xBB\xBF"
      "filenames,embedding_0,labels\r\na.jpg,0.5,3\r\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ(t->filenames[0], "a.jpg");
  EXPECT_EQ(t->labels[0], 3);
  // Only at the start: a mark inside a header cell is still refused.
  EXPECT_FALSE(ParseCsv("filenames,\xEF\xBB\xBF"
                        "embedding_0,labels\na,1,0\n")
                   .ok());
}

TEST(CsvCodecTest, RejectsMalformedWithLineNumbers) {
  const BadCase cases[] = {
      {"", "line 1"},
      {"filename,embedding_0,labels\n", "first column must be 'filenames'"},
      {"filenames,embedding_0\n", "last column must be 'labels'"},
      {"filenames, embedding_0,labels\n", "whitespace"},
      {"filenames,embedding_1,labels\n", "expected 'embedding_0'"},
      {"filenames,embedding_0,foo,labels\n", "got 'foo'"},
      {"filenames,selected,embedding_0,labels\n", "expected 'embedding_0'"},
      {"filenames,embedding_0,labels\na,1,0\n\nb,2,0\n", "line 3: empty row"},
      {"filenames,embedding_0,labels\na,1,0\nb,x,0\n", "line 3, column 2"},
      {"filenames,embedding_0,labels\na,1,0\nb,1\n",
       "line 3: expected 3 columns"},
      {"filenames,embedding_0,labels\na,1,1.5\n",
       "line 2, column 3: expected an integer"},
      {"filenames,embedding_0,labels\n\"a,1,0\n", "line 2: unterminated"},
      {"filenames,embedding_0,labels\n\"a\"x,1,0\n",
       "text after a closing quote"},
      {"filenames,embedding_0,labels\n,1,0\n", "empty filename"},
      {"filenames,embedding_0,selected,labels\na,1,2,0\n", "expected 0 or 1"},
      {"filenames,embedding_0,labels\n\"multi\nline\",1,0\nb,?,0\n",
       "line 4, column 2"},
  };
  for (const BadCase& c : cases) {
    auto t = ParseCsv(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.message))
        << "input: " << c.text;
  }
}

TEST(CsvCodecTest, ReadCsvFileNamesThePath) {
  auto t = ReadCsvFile("/nonexistent/x.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("/nonexistent/x.csv"));
}

// A table of `n` rows large enough to be split among threads, with the
// awkward cases (quotes, commas and newlines in filenames, flags) spread
// through it.
EmbeddingTable LargeTable(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  EmbeddingTable t;
  t.dimension = d;
  for (size_t i = 0; i < n; ++i) {
    std::string name = "images/class_" + std::to_string(i % 10) + "/img_" +
                       std::to_string(i) + ".jpg";
    if (i % 997 == 3) name = "line\nbreak \"" + name + "\", too";
    t.filenames.push_back(name);
    for (size_t j = 0; j < d; ++j) t.values.push_back(g(rng));
    t.labels.push_back(static_cast<int64_t>(i % 10));
    t.selected.push_back(i % 7 == 0);
    t.masked.push_back(i % 11 == 0);
  }
  return t;
}

TEST(CsvCodecTest, ThreadsChangeNeitherTextNorTable) {
  const EmbeddingTable t = LargeTable(60000, 16, 3);  // ~13 MB of text
  std::string one, four;
  AppendCsv(t, &one, 1);
  AppendCsv(t, &four, 4);
  ASSERT_GT(one.size(), 8u << 20);
  EXPECT_TRUE(one == four);
  // Some rows end in CRLF, which the reader accepts.
  std::string crlf = one;
  for (size_t at = crlf.find("img_5000.jpg"); at != std::string::npos;
       at = std::string::npos) {
    crlf.insert(crlf.find('\n', at), "\r");
  }
  for (const std::string* text : {&one, &crlf}) {
    auto a = ParseCsv(*text, 1);
    auto b = ParseCsv(*text, 4);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(a->filenames, t.filenames);
    EXPECT_EQ(b->filenames, t.filenames);
    ASSERT_EQ(b->values.size(), t.values.size());
    EXPECT_EQ(std::memcmp(b->values.data(), t.values.data(),
                          t.values.size() * sizeof(float)),
              0);
    EXPECT_EQ(b->labels, t.labels);
    EXPECT_EQ(b->selected, t.selected);
    EXPECT_EQ(b->masked, t.masked);
  }
}

TEST(CsvCodecTest, ThreadsReportTheFirstErrorWithItsLine) {
  const EmbeddingTable t = LargeTable(60000, 16, 4);
  std::string text;
  AppendCsv(t, &text, 1);
  // Break one value late in the file and one row even later.
  const size_t late = text.find("img_51234.jpg,");
  text.replace(text.find(',', late) + 1, 1, "x");
  const size_t later = text.find("img_59000.jpg,");
  text.replace(later, text.find('\n', later) - later, "short,1");
  // The line of img_51234: the header, then a line per row, plus the
  // newlines inside quoted names before it.
  int line = 2 + 51234;
  for (size_t i = 0; i < 51234; ++i) line += i % 997 == 3;
  for (int threads : {1, 2, 4}) {
    auto parsed = ParseCsv(text, threads);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(
        parsed.status().message(),
        absl::StrCat("line ", line, ", column 2: expected a number, got '",
                     text.substr(text.find(',', late) + 1,
                                 text.find(',', text.find(',', late) + 1) -
                                     text.find(',', late) - 1),
                     "'"))
        << "threads " << threads;
  }
}

}  // namespace
}  // namespace datapool
