// select's candidate columns: --columns parsing, which columns a config
// reads, and the usage errors naming the file, line and column.
#include "client/cli_columns.h"

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Objective = v1::SelectionObjective;

// A --columns file from its text; fails the test when it does not parse.
ColumnFile Columns(const std::string& text,
                   const std::string& name = "--columns s.csv") {
  absl::StatusOr<ColumnFile> file = ParseColumnsCsv(text, name);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *file : ColumnFile();
}

// A candidates CSV's other columns from its text.
ColumnFile Candidates(const std::string& text) {
  absl::StatusOr<CsvWithColumns> csv = ParseCsvWithColumns(text);
  EXPECT_TRUE(csv.ok()) << csv.status();
  if (!csv.ok()) return ColumnFile();
  return CandidateColumnFile("c.csv", &*csv);
}

v1::SelectionConfig ColumnConfig(const std::string& column) {
  v1::SelectionConfig config;
  Objective* o = config.add_objectives();
  o->set_input(Objective::INPUT_COLUMN);
  o->set_strategy(Objective::STRATEGY_THRESHOLD);
  o->set_column(column);
  return config;
}

v1::SelectionConfig ScoresConfig(const std::string& task) {
  v1::SelectionConfig config;
  Objective* o = config.add_objectives();
  o->set_input(Objective::INPUT_EMBEDDINGS);
  o->set_strategy(Objective::STRATEGY_DIVERSITY);
  o = config.add_objectives();
  o->set_input(Objective::INPUT_SCORES);
  o->set_strategy(Objective::STRATEGY_WEIGHTS);
  o->set_score(Objective::SCORE_MARGIN);
  o->set_column(task);
  return config;
}

// ColumnsToSend's error message; fails the test when it succeeds.
std::string SendError(const v1::SelectionConfig& config,
                      const std::vector<ColumnFile>& files) {
  absl::StatusOr<std::vector<v1::CandidateColumns>> sent =
      ColumnsToSend(config, files);
  EXPECT_FALSE(sent.ok());
  if (sent.ok()) return "";
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(sent.status().message());
}

TEST(ReadsColumnsTest, OnlyColumnAndScoresInputs) {
  EXPECT_TRUE(ReadsColumns(ColumnConfig("sharpness")));
  EXPECT_TRUE(ReadsColumns(ScoresConfig("pred")));
  v1::SelectionConfig config;
  EXPECT_FALSE(ReadsColumns(config));
  for (Objective::Input input :
       {Objective::INPUT_EMBEDDINGS, Objective::INPUT_RANDOM,
        Objective::INPUT_LABELS}) {
    config.add_objectives()->set_input(input);
  }
  EXPECT_FALSE(ReadsColumns(config));
}

TEST(ParseColumnsCsvTest, FilenamesAnywhereAndQuotedCells) {
  ColumnFile file = Columns(
      "\xEF\xBB\xBF"
      "sharpness,filenames,\"pred_0\"\r\n"
      "0.5,a.jpg,0.25\r\n"
      "\"1e3\",\"dir/b,\nc.jpg\",x\r\n"
      "-2,c.jpg,\n");
  EXPECT_EQ(file.name, "--columns s.csv");
  EXPECT_THAT(file.filenames, ElementsAre("a.jpg", "dir/b,\nc.jpg", "c.jpg"));
  EXPECT_THAT(file.lines, ElementsAre(2, 3, 5));
  ASSERT_EQ(file.columns.size(), 2u);
  EXPECT_EQ(file.columns[0].name, "sharpness");
  EXPECT_EQ(file.columns[0].column, 1u);
  EXPECT_THAT(file.columns[0].cells, ElementsAre("0.5", "1e3", "-2"));
  EXPECT_EQ(file.columns[1].name, "pred_0");
  EXPECT_EQ(file.columns[1].column, 3u);
  EXPECT_THAT(file.columns[1].cells, ElementsAre("0.25", "x", ""));
}

TEST(ParseColumnsCsvTest, MalformedFilesNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "--columns s.csv: line 1: the file is empty"},
      {"name,score\na,1\n", "--columns s.csv: line 1: no 'filenames' column"},
      {"filenames,score,score\n",
       "--columns s.csv: line 1, column 3: duplicate column 'score'"},
      {"filenames,,score\n", "--columns s.csv: line 1, column 2: empty column"},
      {"filenames,score\na,1\nb\n",
       "--columns s.csv: line 3: expected 2 columns as in the header, got 1"},
      {"filenames,score\na,1\n\nb,2\n", "--columns s.csv: line 3: empty row"},
      {"score,filenames\n1,\n",
       "--columns s.csv: line 2, column 2: empty "
       "filename"},
      {"filenames,score\n\"a,1\n", "--columns s.csv: line 2: unterminated"},
      {"filenames,score\n\"\xff.jpg\",1\n",
       "--columns s.csv: line 2, column 1: filename '\\xFF.jpg' is not valid "
       "UTF-8"},
  };
  for (const auto& [text, message] : cases) {
    absl::StatusOr<ColumnFile> file = ParseColumnsCsv(text, "--columns s.csv");
    ASSERT_FALSE(file.ok()) << text;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(message))
        << text;
  }
}

TEST(ReadColumnsFileTest, NamesTheFlagAndThePath) {
  absl::StatusOr<ColumnFile> missing = ReadColumnsFile("/nonexistent/s.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("--columns: "));
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("/nonexistent/s.csv"));
  const std::string path = ::testing::TempDir() + "/columns.csv";
  std::ofstream(path, std::ios::binary) << "filenames,s\na.jpg,1\n";
  absl::StatusOr<ColumnFile> file = ReadColumnsFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->name, "--columns " + path);
  EXPECT_THAT(file->filenames, ElementsAre("a.jpg"));
}

TEST(ColumnsToSendTest, OnlyTheColumnsReadOneBlockPerFile) {
  std::vector<ColumnFile> files = {
      Candidates("filenames,embedding_0,sharpness,note,labels\n"
                 "a.jpg,1,0.5,blurry,0\n"
                 "b.jpg,2,-1e-3,not a number either,0\n"),
      Columns("filenames,other,pred_1,pred_0,pred_3\n"
              "x.jpg,?,0.75,0.25,?\n"
              "a.jpg,?,0.5,0.5,?\n")};
  v1::SelectionConfig config = ScoresConfig("pred");
  *config.add_objectives() = ColumnConfig("sharpness").objectives(0);
  *config.add_objectives() = ColumnConfig("sharpness").objectives(0);
  absl::StatusOr<std::vector<v1::CandidateColumns>> sent =
      ColumnsToSend(config, files);
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(sent->size(), 2u);
  const v1::CandidateColumns& csv = (*sent)[0];
  EXPECT_THAT(csv.filenames(), ElementsAre("a.jpg", "b.jpg"));
  ASSERT_EQ(csv.columns_size(), 1);  // not "note"; "sharpness" once
  EXPECT_EQ(csv.columns(0).name(), "sharpness");
  EXPECT_THAT(csv.columns(0).values(), ElementsAre(0.5, -1e-3));
  const v1::CandidateColumns& scores = (*sent)[1];
  EXPECT_THAT(scores.filenames(), ElementsAre("x.jpg", "a.jpg"));
  // pred_0 and pred_1, in class order; pred_3 (after a gap) and "other"
  // are not read.
  ASSERT_EQ(scores.columns_size(), 2);
  EXPECT_EQ(scores.columns(0).name(), "pred_0");
  EXPECT_THAT(scores.columns(0).values(), ElementsAre(0.25, 0.5));
  EXPECT_EQ(scores.columns(1).name(), "pred_1");
  EXPECT_THAT(scores.columns(1).values(), ElementsAre(0.75, 0.5));
}

TEST(ColumnsToSendTest, NothingReadNothingSentNorChecked) {
  v1::SelectionConfig config;
  config.add_objectives()->set_input(Objective::INPUT_EMBEDDINGS);
  absl::StatusOr<std::vector<v1::CandidateColumns>> sent = ColumnsToSend(
      config, {Columns("filenames,s\na,x\na,y\n")});  // bad, but not read
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_TRUE(sent->empty());
}

TEST(ColumnsToSendTest, AMissingColumnListsWhatTheFilesHave) {
  EXPECT_EQ(SendError(ColumnConfig("sharpness"),
                      {Candidates("filenames,embedding_0,labels\na,1,0\n"),
                       Columns("filenames,blur,size\na,1,2\n")}),
            "--selection-config strategies[0].input.key: no column "
            "'sharpness' (the files have c.csv: no columns; --columns s.csv: "
            "blur, size)");
  const std::string none =
      "--selection-config strategies[0].input.key: no column 'sharpness' (no "
      "file gives columns: give them in --columns FILE.csv (a 'filenames' "
      "column and one column per value) or as extra columns of the "
      "candidates CSV)";
  EXPECT_EQ(SendError(ColumnConfig("sharpness"), {}), none);
  EXPECT_EQ(SendError(ColumnConfig("sharpness"),
                      {Candidates("filenames,embedding_0,labels\na,1,0\n")}),
            none);
}

TEST(ColumnsToSendTest, ScoresNeedTwoClassColumnsFromZero) {
  EXPECT_EQ(SendError(ScoresConfig("pred"),
                      {Columns("filenames,pred_0,pred_2\na,1,0\n")}),
            "--selection-config strategies[1].input.task: SCORES needs the "
            "class-probability columns pred_0, pred_1, ... (at least 2), "
            "found 1 (the files have --columns s.csv: pred_0, pred_2)");
  EXPECT_THAT(SendError(ScoresConfig("pred"),
                        {Columns("filenames,pred_1,pred_2\na,1,0\n")}),
              HasSubstr("found 0"));
}

TEST(ColumnsToSendTest, AColumnInBothFilesIsRefused) {
  EXPECT_EQ(SendError(ColumnConfig("s"),
                      {Candidates("filenames,embedding_0,s,labels\na,1,2,0\n"),
                       Columns("filenames,s\na,1\n")}),
            "--selection-config strategies[0].input.key: column 's' is in "
            "both c.csv and --columns s.csv; give it in one");
}

TEST(ColumnsToSendTest, CellsThatAreNotFiniteNumbersNameLineAndColumn) {
  for (const char* bad : {"abc", "", "1.5x", "inf", "nan", "1e999", "0x10"}) {
    const std::string text =
        std::string("filenames,other,sharpness\n\"two\nlines\",?,1\nb,?,") +
        bad + "\n";
    EXPECT_EQ(SendError(ColumnConfig("sharpness"), {Columns(text)}),
              std::string("--columns s.csv: line 4, column 3: 'sharpness' "
                          "must be a finite number, got '") +
                  bad + "'")
        << bad;
  }
  // The candidates CSV's cells alike, with its own lines and columns.
  EXPECT_EQ(SendError(ColumnConfig("sharpness"),
                      {Candidates("filenames,embedding_0,sharpness,labels\n"
                                  "a,1,0.5,0\nb,1,high,0\n")}),
            "c.csv: line 3, column 3: 'sharpness' must be a finite number, "
            "got 'high'");
  // Spaces around a number are fine.
  absl::StatusOr<std::vector<v1::CandidateColumns>> sent =
      ColumnsToSend(ColumnConfig("s"), {Columns("filenames,s\na, 2.5 \n")});
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_THAT((*sent)[0].columns(0).values(), ElementsAre(2.5));
}

TEST(ColumnsToSendTest, AFilenameThatRepeatsIsRefused) {
  EXPECT_EQ(SendError(ColumnConfig("s"),
                      {Columns("filenames,s\na.jpg,1\nb.jpg,2\na.jpg,3\n")}),
            "--columns s.csv: line 4: filename 'a.jpg' repeats (first on "
            "line 2)");
}

}  // namespace
}  // namespace cli
}  // namespace datapool
