// The gRPC service through a real in-process server on loopback, called
// with the C++ client library and the raw stub.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/datapool_client.h"
#include "common/csv_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/app/datapool_server.h"
#include "server/core/kcenter_greedy.h"
#include "tests/service_fixture.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST_F(ServiceTest, StreamedAndUnarySelectAgreeAndCommit) {
  EmbeddingTable t = Table(60, 8, 1, "s");
  v1::SelectionParams dry = Params("p", 7);
  dry.set_dry_run(true);
  v1::SelectResponse unary;
  ASSERT_TRUE(Unary(dry, t, &unary).ok());
  EXPECT_FALSE(unary.committed());

  v1::SelectResponse streamed;
  grpc::Status status = client_->Select(Params("p", 7), t, &streamed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(streamed.selected_size(), 7);
  for (int k = 0; k < 7; ++k) {
    EXPECT_EQ(streamed.selected(k).filename(), unary.selected(k).filename());
  }
  EXPECT_FALSE(streamed.selected(0).has_distance());
  EXPECT_TRUE(streamed.selected(1).has_distance());
  EXPECT_EQ(streamed.stop_reason(), v1::STOP_REASON_N_SAMPLES);
  EXPECT_EQ(streamed.version(), 1u);
  EXPECT_TRUE(streamed.committed());
  EXPECT_EQ(streamed.candidates_received(), 60u);
  EXPECT_TRUE(fs::exists(dir_ + "/shared/p/datapool_latest.csv"));

  v1::PoolInfo info;
  ASSERT_TRUE(client_->GetPool("p", &info).ok());
  EXPECT_EQ(info.size(), 7u);
  EXPECT_EQ(info.dimension(), 8u);
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.folder(), dir_ + "/shared/p");
  EXPECT_TRUE(info.normalized());
  EXPECT_THAT(info.created_time(), testing::EndsWith("Z"));
}

TEST_F(ServiceTest, BadInputGetsItsStatusCode) {
  v1::SelectResponse r;
  ASSERT_TRUE(client_->Select(Params("p", 2), Table(5, 4, 1, "a"), &r).ok());

  struct Case {
    const char* what;
    grpc::StatusCode code;
    grpc::Status status;
  };
  EmbeddingTable nan = Table(3, 4, 2, "n");
  nan.values[2] = std::numeric_limits<float>::quiet_NaN();
  EmbeddingTable zero = Table(3, 4, 2, "z");
  std::fill(zero.values.begin(), zero.values.begin() + 4, 0.f);
  v1::SelectionParams no_stop;
  no_stop.set_pool("p");
  v1::SelectionParams negative = Params("p", 1);
  negative.set_min_distance(-1);

  std::vector<Case> cases;
  cases.push_back({"wrong dimension", grpc::StatusCode::FAILED_PRECONDITION,
                   client_->Select(Params("p", 1), Table(3, 5, 3, "w"), &r)});
  cases.push_back({"NaN", grpc::StatusCode::INVALID_ARGUMENT,
                   client_->Select(Params("p", 1), nan, &r)});
  cases.push_back({"zero vector", grpc::StatusCode::INVALID_ARGUMENT,
                   client_->Select(Params("p", 1), zero, &r)});
  cases.push_back({"empty", grpc::StatusCode::INVALID_ARGUMENT,
                   client_->Select(Params("p", 1), EmbeddingTable{}, &r)});
  cases.push_back({"bad name", grpc::StatusCode::INVALID_ARGUMENT,
                   client_->Select(Params("a/b", 1), Table(3, 4, 4, "x"), &r)});
  cases.push_back({"no stop", grpc::StatusCode::INVALID_ARGUMENT,
                   client_->Select(no_stop, Table(3, 4, 4, "x"), &r)});
  cases.push_back({"negative min_distance", grpc::StatusCode::INVALID_ARGUMENT,
                   client_->Select(negative, Table(3, 4, 4, "x"), &r)});
  v1::PoolInfo info;
  cases.push_back({"missing pool", grpc::StatusCode::NOT_FOUND,
                   client_->GetPool("nope", &info)});
  v1::DeletePoolResponse deleted;
  cases.push_back({"delete missing", grpc::StatusCode::NOT_FOUND,
                   client_->DeletePool("nope", &deleted)});
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), c.code)
        << c.what << ": " << c.status.error_message();
    EXPECT_FALSE(c.status.error_message().empty()) << c.what;
  }
  // Shape errors of the raw message.
  v1::SelectRequest bad;
  *bad.mutable_params() = Params("p", 1);
  bad.mutable_candidates()->set_dimension(4);
  bad.mutable_candidates()->add_filenames("x");
  bad.mutable_candidates()->add_values(1);
  grpc::ClientContext context;
  grpc::Status shape = stub_->Select(&context, bad, &r);
  EXPECT_EQ(shape.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(shape.error_message(), HasSubstr("need 4 values, got 1"));

  // Nothing changed and the server still serves.
  ASSERT_TRUE(client_->GetPool("p", &info).ok());
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.size(), 2u);
  ExpectStillServing();
}

TEST_F(ServiceTest, StreamProtocolErrors) {
  // Params in a later message.
  v1::SelectResponse r;
  grpc::ClientContext context;
  auto writer = stub_->SelectStream(&context, &r);
  v1::SelectRequest first;
  *first.mutable_params() = Params("p", 1);
  writer->Write(first);
  writer->Write(first);
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("only the first message"));

  grpc::ClientContext context2;
  auto empty = stub_->SelectStream(&context2, &r);
  empty->WritesDone();
  EXPECT_EQ(empty->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing();
}

TEST_F(ServiceTest, ListAndDelete) {
  v1::SelectResponse r;
  ASSERT_TRUE(client_->Select(Params("one", 2), Table(5, 4, 1, "a"), &r).ok());
  ASSERT_TRUE(client_->Select(Params("two", 3), Table(5, 4, 2, "b"), &r).ok());
  v1::ListPoolsResponse list;
  ASSERT_TRUE(client_->ListPools(&list).ok());
  ASSERT_EQ(list.pools_size(), 2);
  EXPECT_EQ(list.pools(0).name(), "one");
  EXPECT_EQ(list.pools(1).size(), 3u);
  v1::DeletePoolResponse deleted;
  ASSERT_TRUE(client_->DeletePool("one", &deleted).ok());
  EXPECT_EQ(deleted.deleted().size(), 2u);
  EXPECT_FALSE(fs::exists(dir_ + "/shared/one"));
  list.Clear();
  ASSERT_TRUE(client_->ListPools(&list).ok());
  EXPECT_EQ(list.pools_size(), 1);
}

TEST_F(ServiceTest, SearchFindsTheNearestPoolSamples) {
  const EmbeddingTable pool = Table(40, 6, 1, "pool");
  v1::SelectResponse r;
  ASSERT_TRUE(client_->Select(Params("s", 40), pool, &r).ok());
  // Queries: slightly moved copies of pool samples 3 and 17.
  EmbeddingTable queries;
  queries.dimension = 6;
  for (int src : {3, 17}) {
    queries.filenames.push_back(absl::StrCat("q", src));
    queries.labels.push_back(0);
    for (size_t j = 0; j < 6; ++j) {
      queries.values.push_back(pool.values[src * 6 + j] +
                               (j == 0 ? 0.01f : 0.f));
    }
  }
  v1::SearchResponse response;
  grpc::Status s = client_->Search("s", 3, queries, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).query(), "q3");
  ASSERT_EQ(response.results(0).neighbors_size(), 3);
  EXPECT_EQ(response.results(0).neighbors(0).filename(), "pool3");
  EXPECT_EQ(response.results(1).neighbors(0).filename(), "pool17");
  EXPECT_LT(response.results(0).neighbors(0).distance(), 0.01);
  // Brute force agrees on the order and the distances.
  auto unit = [](const float* v) {
    std::vector<double> u(v, v + 6);
    double n = 0;
    for (double x : u) n += x * x;
    for (double& x : u) x /= std::sqrt(n);
    return u;
  };
  for (int q = 0; q < 2; ++q) {
    std::vector<std::pair<double, std::string>> all;
    auto uq = unit(queries.values.data() + q * 6);
    for (size_t i = 0; i < pool.size(); ++i) {
      auto up = unit(pool.values.data() + i * 6);
      double d2 = 0;
      for (int j = 0; j < 6; ++j) d2 += (uq[j] - up[j]) * (uq[j] - up[j]);
      all.emplace_back(std::sqrt(d2), pool.filenames[i]);
    }
    std::sort(all.begin(), all.end());
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(response.results(q).neighbors(j).filename(), all[j].second);
      EXPECT_NEAR(response.results(q).neighbors(j).distance(), all[j].first,
                  1e-5);
    }
  }
  // k larger than the pool returns the whole pool.
  ASSERT_TRUE(client_->Search("s", 100, queries, &response).ok());
  EXPECT_EQ(response.results(0).neighbors_size(), 40);
  // Errors.
  EXPECT_EQ(client_->Search("missing", 3, queries, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      client_->Search("s", 3, Table(2, 5, 9, "w"), &response).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(client_->Search("s", 0, queries, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing();
}

TEST_F(ServiceTest, SelectIntoALargePoolUsesTheIndexAndStaysExact) {
  // Two commits grow the pool's index; a third selection must see both.
  v1::SelectResponse r;
  ASSERT_TRUE(
      client_->Select(Params("big", 300), Table(300, 16, 1, "a"), &r).ok());
  ASSERT_TRUE(
      client_->Select(Params("big", 200), Table(400, 16, 2, "b"), &r).ok());
  const EmbeddingTable third = Table(500, 16, 3, "c");
  v1::SelectionParams p = Params("big", 20);
  ASSERT_TRUE(client_->Select(p, third, &r).ok());
  EXPECT_EQ(r.pool_size_before(), 500u);
  EXPECT_GT(r.distance_evaluations(), 0u);
  // The reported distances are the exact nearest-centre distances.
  auto csv = ReadCsvFile(dir_ + "/shared/big/datapool_latest.csv");
  ASSERT_TRUE(csv.ok());
  ASSERT_EQ(csv->size(), 520u);
  for (int k = 0; k < r.selected_size(); ++k) {
    const size_t row = 500 + k;
    double best = 1e9;
    for (size_t i = 0; i < row; ++i) {
      best = std::min<double>(best,
                              SquaredDistance(csv->row(row), csv->row(i), 16));
    }
    EXPECT_NEAR(r.selected(k).distance(), std::sqrt(best), 1e-5) << k;
  }
}

TEST_F(ServiceTest, PoolsSurviveARestart) {
  v1::SelectResponse r;
  ASSERT_TRUE(client_->Select(Params("keep", 4), Table(9, 4, 1, "k"), &r).ok());
  const int old_port = server_->port();
  server_.reset();
  DatapoolServer::Options options;
  options.shared_dir = dir_ + "/shared";
  options.listen = absl::StrCat("127.0.0.1:", old_port);
  options.model_library = DATAPOOL_MODEL_LIBRARY;
  auto server = DatapoolServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  v1::PoolInfo info;
  grpc::Status s = client_->GetPool("keep", &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.size(), 4u);
}

class LimitsTest : public ServiceTest {
 protected:
  void Configure(DatapoolServer::Options* options) override {
    options->limits.max_candidates = 50;
    options->limits.max_filename_bytes = 32;
    options->max_pools = 2;
    options->max_message_bytes = 64 << 10;
  }

  // Uploads `n` one-chunk images named <prefix><i> through SelectStream.
  grpc::Status Upload(size_t n, const std::string& prefix) {
    v1::SelectResponse r;
    grpc::ClientContext context;
    auto writer = stub_->SelectStream(&context, &r);
    v1::SelectRequest first;
    *first.mutable_params() = Params("images", 1);
    writer->Write(first);
    for (size_t i = 0; i < n; ++i) {
      v1::SelectRequest m;
      v1::ImageChunk* chunk = m.add_images();
      chunk->set_filename(absl::StrCat(prefix, i));
      chunk->set_data("not an image");
      chunk->set_last(true);
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }
};

TEST_F(LimitsTest, OverALimitIsRefusedAndTheServerKeepsServing) {
  v1::SelectResponse r;
  // Candidates per request, counted across the stream's messages.
  ASSERT_TRUE(client_->Select(Params("p1", 2), Table(50, 4, 1, "a"), &r).ok());
  grpc::Status many =
      client_->Select(Params("p1", 2), Table(51, 4, 1, "b"), &r);
  EXPECT_EQ(many.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(many.error_message(), HasSubstr("--max-candidates"));
  grpc::Status images = Upload(51, "img");
  EXPECT_EQ(images.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << images.error_message();

  // Filename length, for embeddings and uploads.
  EmbeddingTable long_name = Table(3, 4, 2, "c");
  long_name.filenames[1] = std::string(33, 'x');
  grpc::Status named = client_->Select(Params("p1", 1), long_name, &r);
  EXPECT_EQ(named.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(named.error_message(), HasSubstr("--max-filename-bytes"));
  grpc::Status upload_named = Upload(1, std::string(40, 'y'));
  EXPECT_EQ(upload_named.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << upload_named.error_message();
  EXPECT_THAT(upload_named.error_message(), HasSubstr("--max-filename-bytes"));

  // Pools: a third one is refused until one is deleted; a dry run into a
  // new pool creates nothing and is fine.
  ASSERT_TRUE(client_->Select(Params("p2", 1), Table(3, 4, 3, "d"), &r).ok());
  grpc::Status third =
      client_->Select(Params("p3", 1), Table(3, 4, 4, "e"), &r);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.error_message(), HasSubstr("--max-pools"));
  v1::SelectionParams dry = Params("p3", 1);
  dry.set_dry_run(true);
  EXPECT_TRUE(client_->Select(dry, Table(3, 4, 4, "e"), &r).ok());
  v1::MergePoolsRequest merge;
  merge.set_target("p3");
  merge.add_sources("p1");
  merge.set_create(true);
  v1::MergePoolsResponse merged;
  EXPECT_EQ(client_->MergePools(merge, &merged).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1::DeletePoolResponse deleted;
  ASSERT_TRUE(client_->DeletePool("p2", &deleted).ok());
  EXPECT_TRUE(client_->Select(Params("p3", 1), Table(3, 4, 4, "e"), &r).ok());

  // The largest message: gRPC refuses it before it reaches the service.
  grpc::Status huge = Unary(Params("p1", 1), Table(40, 512, 5, "f"), &r);
  EXPECT_EQ(huge.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Nothing refused changed a pool.
  v1::PoolInfo info;
  ASSERT_TRUE(client_->GetPool("p1", &info).ok());
  EXPECT_EQ(info.version(), 1u);
  EXPECT_EQ(info.size(), 2u);
  ExpectStillServing();
}

class AdmissionTest : public ServiceTest {
 protected:
  void Configure(DatapoolServer::Options* options) override {
    options->max_running_calls = 1;
    options->max_queued_calls = 0;
  }
};

TEST_F(AdmissionTest, BeyondTheQueueIsRefusedWithARetryHint) {
  // A stream holds the one slot: the server sends initial metadata once it
  // is admitted, and the call runs until the client finishes it.
  v1::SelectResponse streamed;
  grpc::ClientContext holder;
  auto writer = stub_->SelectStream(&holder, &streamed);
  writer->WaitForInitialMetadata();

  v1::SelectResponse r;
  grpc::ClientContext refused_context;
  v1::SelectRequest request;
  *request.mutable_params() = Params("p", 1);
  request.mutable_candidates()->set_dimension(2);
  request.mutable_candidates()->add_filenames("a");
  request.mutable_candidates()->add_values(1);
  request.mutable_candidates()->add_values(0);
  grpc::Status refused = stub_->Select(&refused_context, request, &r);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("--max-running-calls"));
  auto hint = refused_context.GetServerTrailingMetadata().find(
      "grpc-retry-pushback-ms");
  ASSERT_NE(hint, refused_context.GetServerTrailingMetadata().end());
  // Light calls are not queued behind heavy ones.
  v1::ListPoolsResponse list;
  EXPECT_TRUE(client_->ListPools(&list).ok());

  v1::SelectRequest first;
  *first.mutable_params() = Params("p", 1);
  first.mutable_candidates()->set_dimension(2);
  first.mutable_candidates()->add_filenames("b");
  first.mutable_candidates()->add_values(0);
  first.mutable_candidates()->add_values(1);
  ASSERT_TRUE(writer->Write(first));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  // The slot is free again.
  grpc::ClientContext again;
  EXPECT_TRUE(stub_->Select(&again, request, &r).ok());
}

class CancellationTest : public ServiceTest {
 protected:
  void Configure(DatapoolServer::Options* options) override {
    options->max_running_calls = 1;
    options->max_queued_calls = 4;
  }
};

TEST_F(CancellationTest, ADeadlineStopsASelectionAndCommitsNothing) {
  // A selection of about a minute here: 100k candidates, 50k picks.
  v1::SelectRequest request;
  *request.mutable_params() = Params("slow", 50000);
  const EmbeddingTable t = Table(100000, 32, 7, "c");
  v1::EmbeddingBlock* block = request.mutable_candidates();
  block->set_dimension(32);
  for (const std::string& f : t.filenames) block->add_filenames(f);
  block->mutable_values()->Add(t.values.begin(), t.values.end());
  v1::SelectResponse r;
  grpc::ClientContext timed;
  timed.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(1500));
  grpc::Status late = stub_->Select(&timed, request, &r);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  // With one slot, the next heavy call waits until the cancelled one has
  // let go of it: well before a full selection could have finished (tens
  // of seconds here).
  grpc::ClientContext next;
  next.set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(20));
  v1::SelectRequest small;
  *small.mutable_params() = Params("other", 1);
  small.mutable_candidates()->set_dimension(2);
  small.mutable_candidates()->add_filenames("a");
  small.mutable_candidates()->add_values(1);
  small.mutable_candidates()->add_values(0);
  grpc::Status after = stub_->Select(&next, small, &r);
  EXPECT_TRUE(after.ok()) << after.error_message();
  // Nothing was committed by the cancelled call.
  v1::PoolInfo info;
  EXPECT_EQ(client_->GetPool("slow", &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/shared/slow"));
}

}  // namespace
}  // namespace datapool
