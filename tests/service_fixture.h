// The fixture of the service tests: a real in-process server on loopback
// over a fresh shared folder, with the C++ client and the raw stub.
#ifndef DATAPOOL_TESTS_SERVICE_FIXTURE_H_
#define DATAPOOL_TESTS_SERVICE_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/datapool_client.h"
#include "gtest/gtest.h"
#include "server/app/datapool_server.h"

namespace datapool {

// n Gaussian rows of dimension d named <prefix><i>, label i.
inline EmbeddingTable Table(size_t n, size_t d, uint32_t seed,
                            const std::string& prefix) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  EmbeddingTable t;
  t.dimension = d;
  for (size_t i = 0; i < n; ++i) {
    t.filenames.push_back(absl::StrCat(prefix, i));
    t.labels.push_back(static_cast<int64_t>(i));
    for (size_t j = 0; j < d; ++j) t.values.push_back(g(rng));
  }
  return t;
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/svc-XXXXXX");
    dir_ = ::mkdtemp(tmpl.data());
    DatapoolServer::Options options;
    options.shared_dir = dir_ + "/shared";
    options.listen = "127.0.0.1:0";
    options.model_library = DATAPOOL_MODEL_LIBRARY;
    Configure(&options);
    auto server = DatapoolServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    DatapoolClient::Options client_options;
    client_options.server = absl::StrCat("127.0.0.1:", server_->port());
    client_options.timeout = std::chrono::seconds(30);
    client_options.chunk_bytes =
        256;  // many stream messages even for small sets
    client_ = std::make_unique<DatapoolClient>(client_options);
    stub_ = v1::Datapool::NewStub(grpc::CreateChannel(
        client_options.server, grpc::InsecureChannelCredentials()));
  }
  virtual void Configure(DatapoolServer::Options*) {}

  void TearDown() override {
    client_.reset();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  v1::SelectionParams Params(const std::string& pool, uint64_t n) {
    v1::SelectionParams p;
    p.set_pool(pool);
    p.set_n_samples_count(n);
    return p;
  }

  // Unary Select with the candidates in the request.
  grpc::Status Unary(const v1::SelectionParams& params, const EmbeddingTable& t,
                     v1::SelectResponse* response) {
    v1::SelectRequest request;
    *request.mutable_params() = params;
    auto* block = request.mutable_candidates();
    block->set_dimension(static_cast<uint32_t>(t.dimension));
    for (size_t i = 0; i < t.size(); ++i) block->add_filenames(t.filenames[i]);
    for (float v : t.values) block->add_values(v);
    grpc::ClientContext context;
    return stub_->Select(&context, request, response);
  }

  void ExpectStillServing() {
    v1::ListPoolsResponse list;
    EXPECT_TRUE(client_->ListPools(&list).ok());
    grpc::health::v1::HealthCheckResponse health;
    ASSERT_TRUE(client_->Health(&health).ok());
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }

  std::string dir_;
  std::unique_ptr<DatapoolServer> server_;
  std::unique_ptr<DatapoolClient> client_;
  std::unique_ptr<v1::Datapool::Stub> stub_;
};

}  // namespace datapool

#endif  // DATAPOOL_TESTS_SERVICE_FIXTURE_H_
