#include "server/gateway/rest_transcode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datapool/v1/datapool.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/gateway/rest_gateway.h"

namespace datapool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// The Datapool route of `method`.
HttpRoute RouteOf(const std::string& method) {
  const auto& service =
      *v1::SelectRequest::descriptor()->file()->FindServiceByName("Datapool");
  absl::StatusOr<std::vector<HttpRoute>> routes = RoutesOf(service);
  EXPECT_TRUE(routes.ok()) << routes.status();
  for (const HttpRoute& route : routes.value_or(std::vector<HttpRoute>())) {
    if (route.method->name() == method) return route;
  }
  ADD_FAILURE() << "no route for " << method;
  return HttpRoute();
}

absl::Status Build(const HttpRoute& route, absl::string_view body,
                   const Pairs& bindings, const Pairs& query,
                   google::protobuf::Message* request) {
  RestInput input;
  input.body = body;
  input.bindings = &bindings;
  input.query = &query;
  return BuildRequest(route, input, request);
}

TEST(BuildRequest, SelectTakesTheBodyAndThePoolFromThePath) {
  v1::SelectRequest request;
  ASSERT_TRUE(Build(RouteOf("Select"),
                    R"({"params": {"pool": "ignored", "nSamplesCount": "2",
                        "dry_run": true},
                        "candidates": {"dimension": 2,
                                       "filenames": ["a", "b"],
                                       "values": [1, 0, 0.5, 0.25]}})",
                    {{"params.pool", "cats"}}, {}, &request)
                  .ok());
  EXPECT_EQ(request.params().pool(), "cats");  // the path wins
  EXPECT_EQ(request.params().n_samples_count(), 2u);
  EXPECT_TRUE(request.params().dry_run());
  EXPECT_THAT(request.candidates().filenames(), ElementsAre("a", "b"));
  EXPECT_THAT(request.candidates().values(), ElementsAre(1, 0, 0.5, 0.25));
}

TEST(BuildRequest, BadJsonSaysWhatWasWrong) {
  const HttpRoute select = RouteOf("Select");
  v1::SelectRequest request;
  absl::Status bad =
      Build(select, R"({"params": )", {{"params.pool", "p"}}, {}, &request);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("not a JSON SelectRequest"));

  bad = Build(select, R"({"params": {"nSample": 3}})", {{"params.pool", "p"}},
              {}, &request);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("nSample"));

  bad = Build(select, R"({"candidates": {"dimension": "two"}})",
              {{"params.pool", "p"}}, {}, &request);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);

  bad = Build(select, "{}", {{"params.pool", "p"}}, {{"dry_run", "true"}},
              &request);
  EXPECT_THAT(bad.message(), HasSubstr("JSON body, not the query"));
}

TEST(BuildRequest, GetReportTakesTheQuery) {
  const HttpRoute report = RouteOf("GetReport");
  v1::GetReportRequest request;
  ASSERT_TRUE(Build(report, "", {{"pool", "cats"}},
                    {{"version", "3"}, {"includeHtml", "true"}}, &request)
                  .ok());
  EXPECT_EQ(request.pool(), "cats");
  EXPECT_EQ(request.version(), 3u);
  EXPECT_TRUE(request.include_html());

  absl::Status bad =
      Build(report, "", {{"pool", "cats"}}, {{"version", "three"}}, &request);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("'version' must be a uint64"));

  bad = Build(report, "", {{"pool", "cats"}}, {{"colour", "red"}}, &request);
  EXPECT_THAT(bad.message(), HasSubstr("'colour' names no field"));

  bad = Build(report, R"({"version": 3})", {{"pool", "cats"}}, {}, &request);
  EXPECT_THAT(bad.message(), HasSubstr("takes no body"));
}

TEST(ParseQuery, DecodesPairsInOrder) {
  EXPECT_EQ(*ParseQuery("/v1/pools"), Pairs{});
  EXPECT_EQ(*ParseQuery("/v1/pools?"), Pairs{});
  EXPECT_EQ(*ParseQuery("/x?version=3&include_html=true&a=b%20c+d&flag&x=1#f"),
            (Pairs{{"version", "3"},
                   {"include_html", "true"},
                   {"a", "b c d"},
                   {"flag", ""},
                   {"x", "1"}}));
  EXPECT_EQ(*ParseQuery("/x?k=%3D%26&k=2"), (Pairs{{"k", "=&"}, {"k", "2"}}));
  for (const char* bad : {"/x?a=%", "/x?a=%4", "/x?a=%zz"}) {
    EXPECT_EQ(ParseQuery(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(SetFieldFromText, ScalarsOfEachKind) {
  v1::SelectRequest request;
  EXPECT_TRUE(SetFieldFromText("params.min_distance", "0.25", &request).ok());
  EXPECT_TRUE(SetFieldFromText("params.keepHistory", "false", &request).ok());
  EXPECT_TRUE(SetFieldFromText("input_paths", "a", &request).ok());
  EXPECT_TRUE(SetFieldFromText("input_paths", "b", &request).ok());
  EXPECT_EQ(request.params().min_distance(), 0.25);
  EXPECT_TRUE(request.params().has_keep_history());
  EXPECT_FALSE(request.params().keep_history());
  EXPECT_THAT(request.input_paths(), ElementsAre("a", "b"));

  v1::SelectionObjective objective;
  EXPECT_TRUE(
      SetFieldFromText("strategy", "STRATEGY_TYPICALITY", &objective).ok());
  EXPECT_EQ(objective.strategy(), v1::SelectionObjective::STRATEGY_TYPICALITY);
  EXPECT_TRUE(SetFieldFromText("strategy", "1", &objective).ok());
  EXPECT_EQ(objective.strategy(), v1::SelectionObjective::STRATEGY_DIVERSITY);
  EXPECT_FALSE(SetFieldFromText("strategy", "FAST", &objective).ok());
  EXPECT_FALSE(SetFieldFromText("query", "x", &objective).ok());

  v1::ImageChunk chunk;
  EXPECT_TRUE(SetFieldFromText("data", "aGk=", &chunk).ok());
  EXPECT_EQ(chunk.data(), "hi");
  EXPECT_FALSE(SetFieldFromText("data", "@@", &chunk).ok());
  EXPECT_FALSE(SetFieldFromText("last", "maybe", &chunk).ok());
  EXPECT_FALSE(SetFieldFromText("label", "1.5", &chunk).ok());
}

TEST(MessageJson, ProtobufsMappingWithDefaultsPrinted) {
  v1::SelectResponse response;
  response.add_selected()->set_filename("a.jpg");  // no distance: first pick
  v1::SelectedSample* second = response.add_selected();
  second->set_filename("b.jpg");
  second->set_distance(0.5);
  response.set_version(7);
  absl::StatusOr<std::string> json = MessageJson(response);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr(R"("version":"7")"));  // 64-bit: a string
  EXPECT_THAT(*json, HasSubstr(R"("committed":false)"));
  EXPECT_THAT(*json, HasSubstr(R"("poolSizeBefore":"0")"));
  EXPECT_THAT(*json, HasSubstr(R"({"filename":"a.jpg","label":"0"})"));
  EXPECT_THAT(*json, HasSubstr(R"("distance":0.5)"));
  EXPECT_THAT(*json, Not(HasSubstr("pool_size_before")));

  v1::SelectResponse back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), response.SerializeAsString());
}

TEST(HttpStatusOf, GrpcGatewaysMapping) {
  EXPECT_EQ(HttpStatusOf(0), 200);
  EXPECT_EQ(HttpStatusOf(1), 499);   // CANCELLED
  EXPECT_EQ(HttpStatusOf(2), 500);   // UNKNOWN
  EXPECT_EQ(HttpStatusOf(3), 400);   // INVALID_ARGUMENT
  EXPECT_EQ(HttpStatusOf(4), 504);   // DEADLINE_EXCEEDED
  EXPECT_EQ(HttpStatusOf(5), 404);   // NOT_FOUND
  EXPECT_EQ(HttpStatusOf(6), 409);   // ALREADY_EXISTS
  EXPECT_EQ(HttpStatusOf(7), 403);   // PERMISSION_DENIED
  EXPECT_EQ(HttpStatusOf(8), 429);   // RESOURCE_EXHAUSTED
  EXPECT_EQ(HttpStatusOf(9), 400);   // FAILED_PRECONDITION
  EXPECT_EQ(HttpStatusOf(10), 409);  // ABORTED
  EXPECT_EQ(HttpStatusOf(11), 400);  // OUT_OF_RANGE
  EXPECT_EQ(HttpStatusOf(12), 501);  // UNIMPLEMENTED
  EXPECT_EQ(HttpStatusOf(13), 500);  // INTERNAL
  EXPECT_EQ(HttpStatusOf(14), 503);  // UNAVAILABLE
  EXPECT_EQ(HttpStatusOf(15), 500);  // DATA_LOSS
  EXPECT_EQ(HttpStatusOf(16), 401);  // UNAUTHENTICATED
  EXPECT_EQ(HttpStatusOf(17), 500);
  EXPECT_EQ(HttpStatusOf(-1), 500);
}

TEST(ErrorJson, MessageAndCodeQuoted) {
  const std::string json = ErrorJson(16, "the token \"x\" is not valid\n");
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok())
      << json;
  EXPECT_EQ(parsed.fields().at("code").number_value(), 16);
  EXPECT_EQ(parsed.fields().at("message").string_value(),
            "the token \"x\" is not valid\n");
  EXPECT_EQ(parsed.fields().at("error").string_value(),
            "the token \"x\" is not valid\n");
}

TEST(ParseGrpcTimeout, UnitsAndRefusals) {
  EXPECT_EQ(*ParseGrpcTimeout("30S"), absl::Seconds(30));
  EXPECT_EQ(*ParseGrpcTimeout("500m"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGrpcTimeout("2M"), absl::Minutes(2));
  EXPECT_EQ(*ParseGrpcTimeout("1H"), absl::Hours(1));
  EXPECT_EQ(*ParseGrpcTimeout("7u"), absl::Microseconds(7));
  EXPECT_EQ(*ParseGrpcTimeout("9n"), absl::Nanoseconds(9));
  for (const char* bad : {"", "S", "30", "30s", "-1S", "1.5S", "1234567890S"}) {
    EXPECT_FALSE(ParseGrpcTimeout(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace datapool
