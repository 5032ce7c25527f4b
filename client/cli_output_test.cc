#include "client/cli_output.h"

#include <sstream>

#include "client/progress_bar.h"
#include "client/text_table.h"
#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datapool {
namespace cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TextTableTest, PadsColumnsToTheWidestCellAndTrimsLineEnds) {
  TextTable table({{"NAME"}, {"SIZE", TextTable::Align::kRight}, {"NOTE"}});
  table.AddRow({"a", "12345", ""});
  table.AddRow({"longer-name", "7", "x"});
  EXPECT_EQ(table.Render(),
            "NAME          SIZE  NOTE\n"
            "a            12345\n"
            "longer-name      7  x\n");
}

TEST(TextTableTest, CountsUtf8CodePointsNotBytes) {
  TextTable table({{"A"}, {"B"}});
  table.AddRow({"\xC3\xA9t\xC3\xA9", "1"});  // "été": 3 wide, 5 bytes
  table.AddRow({"abcd", "2"});
  EXPECT_EQ(table.Render(),
            "A     B\n"
            "\xC3\xA9t\xC3\xA9   1\n"
            "abcd  2\n");
}

TEST(TextTableTest, FillsMissingCells) {
  TextTable table({{"A"}, {"B"}});
  table.AddRow({"x"});
  EXPECT_EQ(table.rows(), 1u);
  EXPECT_EQ(table.Render(), "A  B\nx\n");
}

v1::PoolInfo Pool(const std::string& name, uint64_t size) {
  v1::PoolInfo p;
  p.set_name(name);
  p.set_size(size);
  p.set_dimension(32);
  p.set_version(3);
  p.set_updated_time("2026-01-02T03:04:05Z");
  return p;
}

TEST(PoolsTest, TextIsATableJsonIsOneParsableLine) {
  v1::ListPoolsResponse response;
  EXPECT_EQ(PoolsText(response), "No pools.\n");
  *response.add_pools() = Pool("a", 5);
  *response.add_pools() = Pool("bigger_pool", 12000);
  EXPECT_EQ(PoolsText(response),
            "NAME          SIZE  DIMENSION  VERSION  UPDATED\n"
            "a                5         32        3  2026-01-02T03:04:05Z\n"
            "bigger_pool  12000         32        3  2026-01-02T03:04:05Z\n");
  const std::string json = PoolsJson(response);
  ASSERT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1);
  absl::StatusOr<Json> value = ParseJson(json);
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_TRUE(value->contains("pools"));
  const Json* pools = &value->at("pools");
  ASSERT_EQ(pools->size(), 2u);
  EXPECT_EQ((*pools)[1].at("name").get<std::string>(), "bigger_pool");
  EXPECT_EQ((*pools)[1].at("size").get<double>(), 12000);
}

TEST(SelectTest, TextListsPicksInATableAndSkippedFiles) {
  v1::SelectResponse response;
  response.set_candidates_received(4);
  response.set_stop_reason(v1::STOP_REASON_N_SAMPLES);
  response.set_pool_size_after(2);
  response.set_version(1);
  response.set_committed(true);
  v1::SelectedSample* first = response.add_selected();
  first->set_filename("a.jpg");
  v1::SelectedSample* second = response.add_selected();
  second->set_filename("b.jpg");
  second->set_distance(0.5);
  second->set_label(1);
  v1::SkippedFile* skipped = response.add_skipped();
  skipped->set_filename("bad.jpg");
  skipped->set_reason("not an image");
  const std::string text = SelectText(response, "p", /*dry_run=*/false);
  EXPECT_THAT(text, HasSubstr("Selected 2 of 4 candidates for pool 'p' "
                              "(stopped: n_samples)\n"));
  EXPECT_THAT(text, HasSubstr("Pool size 0 -> 2, version 1\n"));
  EXPECT_THAT(text, HasSubstr("#  DISTANCE  LABEL  FILENAME\n"
                              "1         -      0  a.jpg\n"
                              "2  0.500000      1  b.jpg\n"));
  EXPECT_THAT(text, HasSubstr("Skipped 1 file (not used):\n"
                              "FILENAME  REASON\n"
                              "bad.jpg   not an image\n"));
  EXPECT_THAT(SelectText(response, "p", /*dry_run=*/true),
              HasSubstr("Would select 2 of 4"));

  absl::StatusOr<Json> json = ParseJson(SelectJson(response, false));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->at("stop_reason").get<std::string>(), "n_samples");
  const Json& picks = json->at("selected");
  ASSERT_EQ(picks.size(), 2u);
  EXPECT_TRUE(picks[0].at("distance").is_null());
  EXPECT_EQ(picks[1].at("distance").get<double>(), 0.5);
  EXPECT_EQ(json->at("skipped")[0].at("reason").get<std::string>(),
            "not an image");
}

TEST(SelectTest, CandidatesFilteredByAThresholdWhenAny) {
  v1::SelectResponse response;
  response.set_candidates_received(10);
  response.set_stop_reason(v1::STOP_REASON_EXHAUSTED);
  EXPECT_THAT(SelectText(response, "p", false),
              Not(HasSubstr("filtered by a threshold")));
  absl::StatusOr<Json> json = ParseJson(SelectJson(response, false));
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_TRUE(json->contains("candidates_filtered"));
  EXPECT_EQ(json->at("candidates_filtered").get<double>(), 0);

  response.set_candidates_filtered(7);
  EXPECT_THAT(SelectText(response, "p", false),
              HasSubstr("\n  7 filtered by a threshold\nPool size"));
  json = ParseJson(SelectJson(response, false));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->at("candidates_filtered").get<double>(), 7);
}

TEST(SearchTest, OneRowPerNeighbour) {
  v1::SearchResponse response;
  v1::QueryResult* q = response.add_results();
  q->set_query("q1");
  v1::Neighbor* n = q->add_neighbors();
  n->set_filename("x.jpg");
  n->set_distance(0.25);
  n = q->add_neighbors();
  n->set_filename("y.jpg");
  n->set_distance(1.5);
  n->set_label(2);
  EXPECT_EQ(SearchText(response),
            "QUERY  #  DISTANCE  LABEL  FILENAME\n"
            "q1     1  0.250000      0  x.jpg\n"
            "q1     2  1.500000      2  y.jpg\n");
  EXPECT_THAT(SearchText(response), Not(HasSubstr("Skipped")));
}

TEST(HistoryTest, MarksTheCurrentVersion) {
  v1::ListHistoryResponse response;
  v1::HistoryEntry* v = response.add_versions();
  v->set_version(1);
  v->set_time("t1");
  v->set_size(10);
  v->set_csv_file("history/v1.csv");
  v = response.add_versions();
  v->set_version(2);
  v->set_time("t2");
  v->set_size(20);
  v->set_csv_file("datapool_latest.csv");
  v->set_current(true);
  EXPECT_EQ(HistoryText(response),
            "VERSION  TIME  SIZE  FILE\n"
            "      1  t1      10  history/v1.csv\n"
            "      2  t2      20  datapool_latest.csv  (current)\n");
}

TEST(ProgressBarTest, LineAndTerminalControls) {
  v1::Progress p;
  p.set_phase("embedding");
  p.set_done(5);
  p.set_total(10);
  EXPECT_EQ(ProgressBar::Line(p),
            "embedding  5/10 [###############...............]");
  p.set_phase("receiving");
  p.set_total(0);
  EXPECT_EQ(ProgressBar::Line(p), "receiving  5");

  std::ostringstream out;
  ProgressBar bar(/*enabled=*/true, out);
  bar.Show(p);
  bar.Done();
  EXPECT_EQ(out.str(), "\rreceiving  5\033[K\r\033[K");
  std::ostringstream none;
  ProgressBar off(/*enabled=*/false, none);
  off.Show(p);
  off.Done();
  EXPECT_EQ(none.str(), "");
}

TEST(TrainTextTest, SaysWhetherTheTrainMadeThePool) {
  v1::TrainResponse r;
  r.mutable_pool()->set_name("p");
  r.mutable_pool()->set_version(1);
  r.set_created(true);
  EXPECT_THAT(TrainText(r),
              HasSubstr("New pool with the trained model and no samples "
                        "yet: version 1 of p\n  size        0\n"));
  EXPECT_THAT(TrainJson(r), HasSubstr("\"created\":true"));
  r.set_created(false);
  r.set_reembedded(4);
  r.mutable_pool()->set_version(3);
  r.mutable_pool()->set_size(4);
  EXPECT_THAT(TrainText(r),
              HasSubstr("4 samples re-embedded with the trained model: "
                        "version 3 of p\n"));
  EXPECT_THAT(TrainJson(r), HasSubstr("\"created\":false"));
}

}  // namespace
}  // namespace cli
}  // namespace datapool
