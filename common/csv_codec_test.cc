#include "common/csv_codec.h"

#include <cmath>
#include <cstring>
#include <fstream>
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

// -- Candidates CSVs with other columns (ParseCsvWithColumns) -----------------

TEST(CsvWithColumnsTest, KeepsOtherColumnsBesideTheLightlyOnes) {
  const std::string text =
      "filenames,embedding_0,embedding_1,sharpness,selected,pred_0,masked,"
      "labels\r\n"
      "a.jpg,0.5,1.5,12.25,1,0.9,0,3\r\n"
      "\"two\nlines.jpg\",-1,2,\"7,5\",0,,1,4\r\n"
      "c.jpg,0,0,x,0,0.1,0,5\r\n";
  absl::StatusOr<CsvWithColumns> csv = ParseCsvWithColumns(text);
  ASSERT_TRUE(csv.ok()) << csv.status();
  const EmbeddingTable& t = csv->table;
  EXPECT_EQ(t.dimension, 2u);
  EXPECT_EQ(t.filenames,
            (std::vector<std::string>{"a.jpg", "two\nlines.jpg", "c.jpg"}));
  EXPECT_EQ(t.values, (std::vector<float>{0.5f, 1.5f, -1.f, 2.f, 0.f, 0.f}));
  EXPECT_EQ(t.selected, (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_EQ(t.masked, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(t.labels, (std::vector<int64_t>{3, 4, 5}));
  ASSERT_EQ(csv->columns.size(), 2u);
  EXPECT_EQ(csv->columns[0].name, "sharpness");
  EXPECT_EQ(csv->columns[0].column, 4u);
  EXPECT_EQ(csv->columns[0].cells,
            (std::vector<std::string>{"12.25", "7,5", "x"}));
  EXPECT_EQ(csv->columns[1].name, "pred_0");
  EXPECT_EQ(csv->columns[1].column, 6u);
  EXPECT_EQ(csv->columns[1].cells,
            (std::vector<std::string>{"0.9", "", "0.1"}));
  EXPECT_EQ(csv->lines, (std::vector<int>{2, 3, 5}));
  // The pool's loader rules stay strict.
  absl::StatusOr<EmbeddingTable> strict = ParseCsv(text);
  ASSERT_FALSE(strict.ok());
  EXPECT_THAT(std::string(strict.status().message()),
              HasSubstr("line 1, column 4"));
}

TEST(CsvWithColumnsTest, FlagLikeCellsOfOtherColumnsAreNotFlags) {
  // 0/1 cells between the embeddings and the labels, as the fast row
  // parser expects selected/masked: here they belong to "flag".
  absl::StatusOr<CsvWithColumns> csv = ParseCsvWithColumns(
      "filenames,embedding_0,flag,labels\na,1,1,7\nb,2,0,8\n");
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_TRUE(csv->table.selected.empty());
  EXPECT_TRUE(csv->table.masked.empty());
  EXPECT_EQ(csv->table.labels, (std::vector<int64_t>{7, 8}));
  ASSERT_EQ(csv->columns.size(), 1u);
  EXPECT_EQ(csv->columns[0].cells, (std::vector<std::string>{"1", "0"}));
}

TEST(CsvWithColumnsTest, WithoutOtherColumnsIsParseCsv) {
  const EmbeddingTable t = LargeTable(20000, 8, 5);
  std::string text;
  AppendCsv(t, &text, 1);
  for (int threads : {1, 4}) {
    absl::StatusOr<CsvWithColumns> csv = ParseCsvWithColumns(text, threads);
    ASSERT_TRUE(csv.ok()) << csv.status();
    EXPECT_TRUE(csv->columns.empty());
    EXPECT_TRUE(csv->lines.empty());
    EXPECT_EQ(csv->table.filenames, t.filenames);
    EXPECT_EQ(csv->table.values, t.values);
    EXPECT_EQ(csv->table.selected, t.selected);
    EXPECT_EQ(csv->table.masked, t.masked);
    EXPECT_EQ(csv->table.labels, t.labels);
  }
  absl::StatusOr<CsvWithColumns> bom = ParseCsvWithColumns(
      "\xEF\xBB\xBF"
      "filenames,embedding_0,score,labels\na.jpg,0.5,0.25,3\n");
  ASSERT_TRUE(bom.ok()) << bom.status();
  EXPECT_EQ(bom->columns[0].name, "score");
}

TEST(CsvWithColumnsTest, RejectsMalformedWithLineAndColumn) {
  const BadCase cases[] = {
      {"", "line 1: the file is empty"},
      {"filenames,embedding_0,score\n", "last column must be 'labels'"},
      {"score,filenames,embedding_0,labels\n",
       "line 1, column 1: the first column must be 'filenames'"},
      {"filenames,embedding_0,my score,labels\n",
       "line 1, column 3: header cell 'my score' contains whitespace"},
      {"filenames,embedding_0,embedding_2,labels\n",
       "line 1, column 3: expected 'embedding_1'"},
      {"filenames,embedding_0,score,embedding_1,labels\n",
       "line 1, column 4: 'embedding_1' after other columns"},
      {"filenames,embedding_0,score,score,labels\n",
       "line 1, column 4: duplicate column 'score'"},
      {"filenames,embedding_0,selected,x,selected,labels\n",
       "line 1, column 5: duplicate column 'selected'"},
      {"filenames,embedding_0,labels,labels\n",
       "line 1, column 3: duplicate column 'labels'"},
      {"filenames,embedding_0,,labels\n", "line 1, column 3: empty column"},
      {"filenames,embedding_0,score,labels\na,1,2,0\nb,1,0\n",
       "line 3: expected 4 columns as in the header, got 3"},
      {"filenames,embedding_0,score,labels\na,1,2,0\nb,x,2,0\n",
       "line 3, column 2: expected a number, got 'x'"},
      {"filenames,embedding_0,score,selected,labels\na,1,2,yes,0\n",
       "line 2, column 4: expected 0 or 1, got 'yes'"},
      {"filenames,embedding_0,score,labels\na,1,2,0.5\n",
       "line 2, column 4: expected an integer label"},
      {"filenames,embedding_0,score,labels\n\"multi\nline\",1,2,0\nb,?,2,0\n",
       "line 4, column 2"},
      {"filenames,embedding_0,score,labels\na,1,2,0\n\nb,1,2,0\n",
       "line 3: empty row"},
      {"filenames,embedding_0,score,labels\na,1,\"2,0\n",
       "line 2: unterminated quoted field"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<CsvWithColumns> csv = ParseCsvWithColumns(c.text);
    ASSERT_FALSE(csv.ok()) << c.text;
    EXPECT_EQ(csv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(csv.status().message()), HasSubstr(c.message))
        << "input: " << c.text;
  }
}

TEST(CsvWithColumnsTest, ReadCsvFileWithColumnsNamesThePath) {
  const std::string path = ::testing::TempDir() + "/with_columns.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "filenames,embedding_0,score,labels\na.jpg,1,0.75,2\nb.jpg,2,x,y\n";
  }
  absl::StatusOr<CsvWithColumns> csv = ReadCsvFileWithColumns(path);
  ASSERT_FALSE(csv.ok());
  EXPECT_EQ(csv.status().message(),
            path + ": line 3, column 4: expected an integer label, got 'y'");
  {
    std::ofstream out(path, std::ios::binary);
    out << "filenames,embedding_0,score,labels\na.jpg,1,0.75,2\n";
  }
  csv = ReadCsvFileWithColumns(path);
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->columns[0].cells, (std::vector<std::string>{"0.75"}));
  csv = ReadCsvFileWithColumns("/nonexistent/c.csv");
  ASSERT_FALSE(csv.ok());
  EXPECT_EQ(csv.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(csv.status().message()),
              HasSubstr("/nonexistent/c.csv"));
}

}  // namespace
}  // namespace datapool
