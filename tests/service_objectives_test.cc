// Selection objectives through the real server: candidate columns that
// arrive in any message of a stream, THRESHOLD filters, SIMILARITY to
// another pool, and what a bad config gets.
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service_fixture.h"

namespace datapool {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// `n` rows named c0.. with column "s" = (i * 7 % 10) / 10.
double ScoreOf(int i) { return (i * 7 % 10) / 10.0; }

void AddScores(int from, int to, v1::SelectRequest* request) {
  v1::CandidateColumns* columns = request->mutable_columns();
  v1::CandidateColumn* s = columns->add_columns();
  s->set_name("s");
  for (int i = from; i < to; ++i) {
    columns->add_filenames(absl::StrCat("c", i));
    s->add_values(ScoreOf(i));
  }
}

void AddRows(const EmbeddingTable& t, int from, int to,
             v1::SelectRequest* request) {
  v1::EmbeddingBlock* block = request->mutable_candidates();
  block->set_dimension(static_cast<uint32_t>(t.dimension));
  for (int i = from; i < to; ++i) {
    block->add_filenames(t.filenames[i]);
    for (size_t j = 0; j < t.dimension; ++j) {
      block->add_values(t.row(i)[j]);
    }
  }
}

// DIVERSITY with a THRESHOLD on column "s".
v1::SelectionConfig Filtered(v1::SelectionObjective::Operation op,
                             double threshold) {
  v1::SelectionConfig config;
  v1::SelectionObjective* d = config.add_objectives();
  d->set_input(v1::SelectionObjective::INPUT_EMBEDDINGS);
  d->set_strategy(v1::SelectionObjective::STRATEGY_DIVERSITY);
  v1::SelectionObjective* t = config.add_objectives();
  t->set_input(v1::SelectionObjective::INPUT_COLUMN);
  t->set_column("s");
  t->set_strategy(v1::SelectionObjective::STRATEGY_THRESHOLD);
  t->set_operation(op);
  t->set_threshold(threshold);
  return config;
}

TEST_F(ServiceTest, ColumnsMayComeInAnyMessageOfAStream) {
  const EmbeddingTable t = Table(40, 6, 3, "c");
  v1::SelectionParams params = Params("p", 40);
  *params.mutable_config() =
      Filtered(v1::SelectionObjective::OPERATION_BIGGER_EQUAL, 0.5);
  // Scores for the last rows come first, before any candidate; the rest
  // ride with the candidates and after them.
  std::vector<v1::SelectRequest> messages(3);
  *messages[0].mutable_params() = params;
  AddScores(30, 40, &messages[0]);
  AddRows(t, 0, 40, &messages[1]);
  AddScores(0, 20, &messages[1]);
  AddScores(20, 30, &messages[2]);
  grpc::ClientContext context;
  v1::SelectResponse response;
  auto writer = stub_->SelectStream(&context, &response);
  for (const v1::SelectRequest& m : messages) ASSERT_TRUE(writer->Write(m));
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Scores >= 0.5: i * 7 % 10 in 5..9, half of the 40.
  EXPECT_EQ(response.candidates_filtered(), 20u);
  EXPECT_EQ(response.selected_size(), 20);
  for (const v1::SelectedSample& s : response.selected()) {
    EXPECT_GE(ScoreOf(std::stoi(s.filename().substr(1))), 0.5) << s.filename();
  }
  EXPECT_TRUE(response.committed());
}

TEST_F(ServiceTest, ABadObjectiveIsAnInvalidArgumentAndCommitsNothing) {
  const EmbeddingTable t = Table(10, 4, 5, "c");
  struct Case {
    std::string expected;
    int scored;  // rows with a score
    v1::SelectionConfig config;
  };
  std::vector<Case> cases;
  // Column missing for c9.
  cases.push_back(
      {"config.objectives[1].column: column 's' has no value "
       "for 'c9'",
       9, Filtered(v1::SelectionObjective::OPERATION_BIGGER, 0)});
  // No such column.
  v1::SelectionConfig other =
      Filtered(v1::SelectionObjective::OPERATION_BIGGER, 0);
  other.mutable_objectives(1)->set_column("sharpness");
  cases.push_back(
      {"the request has no column 'sharpness' (it has s)", 10, other});
  // No operation.
  cases.push_back(
      {"config.objectives[1].operation: THRESHOLD needs an operation", 10,
       Filtered(v1::SelectionObjective::OPERATION_UNSPECIFIED, 0)});
  // A threshold on the embeddings.
  v1::SelectionConfig embeddings =
      Filtered(v1::SelectionObjective::OPERATION_BIGGER, 0);
  embeddings.mutable_objectives(1)->set_input(
      v1::SelectionObjective::INPUT_EMBEDDINGS);
  cases.push_back(
      {"config.objectives[1].input: strategy threshold takes "
       "input COLUMN, SCORES or LABELS",
       10, embeddings});
  // SCORES without its score.
  v1::SelectionConfig scores =
      Filtered(v1::SelectionObjective::OPERATION_BIGGER, 0);
  scores.mutable_objectives(1)->set_input(v1::SelectionObjective::INPUT_SCORES);
  cases.push_back(
      {"config.objectives[1].score: input SCORES needs a score", 10, scores});
  for (const Case& c : cases) {
    v1::SelectRequest request;
    *request.mutable_params() = Params("p", 3);
    *request.mutable_params()->mutable_config() = c.config;
    AddRows(t, 0, 10, &request);
    AddScores(0, c.scored, &request);
    grpc::ClientContext context;
    v1::SelectResponse response;
    grpc::Status status = stub_->Select(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.expected;
    EXPECT_THAT(status.error_message(), HasSubstr(c.expected));
  }
  // A non-finite score.
  v1::SelectRequest request;
  *request.mutable_params() = Params("p", 3);
  AddRows(t, 0, 10, &request);
  AddScores(0, 10, &request);
  request.mutable_columns()->mutable_columns(0)->set_values(4, NAN);
  grpc::ClientContext context;
  v1::SelectResponse response;
  grpc::Status status = stub_->Select(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("columns.columns[0]: column 's' has nan for 'c4'"));
  v1::ListPoolsResponse pools;
  ASSERT_TRUE(client_->ListPools(&pools).ok());
  EXPECT_EQ(pools.pools_size(), 0);
}

TEST_F(ServiceTest, SimilarityToAnotherPoolPrefersItsNeighbours) {
  // Candidates on the unit circle; the query pool holds one sample at
  // angle 1.0, so the nearest candidates in angle come first.
  EmbeddingTable circle;
  circle.dimension = 2;
  const std::vector<double> angles = {0, 0.4, 1, 1.7, 2.5, 3};
  for (size_t i = 0; i < angles.size(); ++i) {
    circle.filenames.push_back(absl::StrCat("c", i));
    circle.values.push_back(static_cast<float>(std::cos(angles[i])));
    circle.values.push_back(static_cast<float>(std::sin(angles[i])));
  }
  EmbeddingTable query;
  query.dimension = 2;
  query.filenames = {"q"};
  query.values = {static_cast<float>(std::cos(1.0)),
                  static_cast<float>(std::sin(1.0))};
  v1::SelectResponse response;
  ASSERT_TRUE(Unary(Params("queries", 1), query, &response).ok());
  v1::SelectionParams params = Params("p", 3);
  params.set_dry_run(true);
  v1::SelectionObjective* o = params.mutable_config()->add_objectives();
  o->set_input(v1::SelectionObjective::INPUT_EMBEDDINGS);
  o->set_strategy(v1::SelectionObjective::STRATEGY_SIMILARITY);
  o->set_query_pool("queries");
  grpc::Status status = Unary(params, circle, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.selected_size(), 3);
  EXPECT_EQ(response.selected(0).filename(), "c2");
  EXPECT_EQ(response.selected(1).filename(), "c1");
  EXPECT_EQ(response.selected(2).filename(), "c3");
  o->set_query_pool("missing");
  status = Unary(params, circle, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(),
              HasSubstr("config.objectives[0].query_pool: there is no pool "
                        "'missing'"));
}

}  // namespace
}  // namespace datapool
