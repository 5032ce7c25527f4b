#include "server/gateway/http_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datapool/v1/datapool.pb.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.pb.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using Bindings = std::vector<std::pair<std::string, std::string>>;

const google::protobuf::ServiceDescriptor& DatapoolService() {
  return *v1::SelectRequest::descriptor()->file()->FindServiceByName(
      "Datapool");
}

// "POST /v1/pools/{params.pool}:select Select body=*".
std::vector<std::string> Describe(const std::vector<HttpRoute>& routes) {
  std::vector<std::string> out;
  for (const HttpRoute& route : routes) {
    out.push_back(route.http_method + " " + route.path.text() + " " +
                  route.method->name() + " body=" + route.body);
  }
  return out;
}

// The routes the README and the OpenAPI document describe, read from the
// proto's options: a changed annotation shows here.
TEST(RoutesOf, DatapoolServesTheReadCallsAndSelect) {
  absl::StatusOr<std::vector<HttpRoute>> routes = RoutesOf(DatapoolService());
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_THAT(Describe(*routes),
              ElementsAre("POST /v1/pools/{params.pool}:select Select body=*",
                          "POST /v1/pools:search Search body=*",
                          "GET /v1/pools/{pool} GetPool body=",
                          "GET /v1/pools ListPools body=",
                          "GET /v1/pools/{pool}/history ListHistory body=",
                          "GET /v1/pools/{pool}/report GetReport body="));
}

TEST(PathTemplate, MatchesLiteralsVariablesAndVerbs) {
  absl::StatusOr<PathTemplate> select =
      PathTemplate::Parse("/v1/pools/{params.pool}:select");
  ASSERT_TRUE(select.ok()) << select.status();
  EXPECT_THAT(select->Variables(), ElementsAre("params.pool"));
  EXPECT_THAT(select->Match("/v1/pools/cats:select"),
              testing::Optional(ElementsAre(Pair("params.pool", "cats"))));
  EXPECT_EQ(select->Match("/v1/pools/cats"), std::nullopt);
  EXPECT_EQ(select->Match("/v1/pools/cats:search"), std::nullopt);
  EXPECT_EQ(select->Match("/v1/pools/:select"), std::nullopt);
  EXPECT_EQ(select->Match("/v1/pools/a/b:select"), std::nullopt);

  absl::StatusOr<PathTemplate> pool = PathTemplate::Parse("/v1/pools/{pool}");
  ASSERT_TRUE(pool.ok());
  EXPECT_THAT(pool->Match("/v1/pools/cats.v2"),
              testing::Optional(ElementsAre(Pair("pool", "cats.v2"))));
  // A verb the template lacks is no match (not a pool named "cats:select").
  EXPECT_EQ(pool->Match("/v1/pools/cats:select"), std::nullopt);
  EXPECT_EQ(pool->Match("/v1/pools/"), std::nullopt);
  EXPECT_EQ(pool->Match("/v1/pools"), std::nullopt);
  EXPECT_EQ(pool->Match("v1/pools/cats"), std::nullopt);

  absl::StatusOr<PathTemplate> list = PathTemplate::Parse("/v1/pools");
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(list->Match("/v1/pools"), testing::Optional(Bindings{}));
  EXPECT_EQ(list->Match("/v1/pools/x"), std::nullopt);
  EXPECT_EQ(list->Match("/v1/poolsx"), std::nullopt);

  absl::StatusOr<PathTemplate> star = PathTemplate::Parse("/v1/{name=*}:get");
  ASSERT_TRUE(star.ok()) << star.status();
  EXPECT_THAT(star->Match("/v1/x:get"),
              testing::Optional(ElementsAre(Pair("name", "x"))));
}

TEST(PathTemplate, RefusesWhatTheGatewayDoesNotServe) {
  for (const char* text : {"v1/pools", "/v1/*", "/v1/**", "/v1//pools",
                           "/v1/{name=shelves/*}", "/v1/{a}{b}", "/v1/x:"}) {
    absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(text);
    EXPECT_FALSE(parsed.ok()) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(text));
  }
}

TEST(FindFieldPath, ByProtoOrJsonNameThroughMessages) {
  const auto& request = *v1::SelectRequest::descriptor();
  EXPECT_EQ(FindFieldPath(request, "params.pool"),
            v1::SelectionParams::descriptor()->FindFieldByName("pool"));
  EXPECT_EQ(FindFieldPath(request, "params.dryRun"),
            v1::SelectionParams::descriptor()->FindFieldByName("dry_run"));
  EXPECT_EQ(FindFieldPath(request, "params.nope"), nullptr);
  EXPECT_EQ(FindFieldPath(request, "input_paths.x"), nullptr);
}

// A service built here, with one method and the given option.
class BadRoutes : public testing::Test {
 protected:
  static absl::Status RoutesWith(const std::string& get, bool server_streaming,
                                 const std::string& body = "") {
    google::protobuf::FileDescriptorProto file;
    file.set_name("bad_routes_test.proto");
    file.set_package("bad");
    file.set_syntax("proto3");
    auto* request = file.add_message_type();
    request->set_name("Request");
    auto* field = request->add_field();
    field->set_name("name");
    field->set_number(1);
    field->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
    field->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* service = file.add_service();
    service->set_name("Bad");
    auto* method = service->add_method();
    method->set_name("Call");
    method->set_input_type(".bad.Request");
    method->set_output_type(".bad.Request");
    method->set_server_streaming(server_streaming);
    google::api::HttpRule* rule =
        method->mutable_options()->MutableExtension(google::api::http);
    rule->set_post(get);
    rule->set_body(body);
    google::protobuf::DescriptorPool pool;
    const google::protobuf::FileDescriptor* built = pool.BuildFile(file);
    if (built == nullptr) return absl::InternalError("cannot build the file");
    return RoutesOf(*built->service(0)).status();
  }
};

TEST_F(BadRoutes, EachNamesWhatIsWrong) {
  EXPECT_TRUE(RoutesWith("/v1/{name}", false).ok());
  EXPECT_THAT(RoutesWith("/v1/{missing}", false).message(),
              HasSubstr("'missing'"));
}

TEST_F(BadRoutes, ServerStreamingIsRefused) {
  EXPECT_THAT(RoutesWith("/v1/x", true).message(),
              HasSubstr("server-streaming"));
}

TEST_F(BadRoutes, BodyMustBeAMessageField) {
  EXPECT_THAT(RoutesWith("/v1/x", false, "name").message(),
              HasSubstr("body 'name'"));
}

}  // namespace
}  // namespace datapool
