#include "server/core/selection_report.h"

#include <cmath>
#include <filesystem>
#include <regex>

#include "common/file_util.h"
#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/pool_manager.h"
#include "server/core/test_util.h"

namespace datapool {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<PoolManager> Open(const std::string& dir) {
  auto m = PoolManager::Create({dir});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

const Json& Get(const Json& v, const std::string& key) {
  static const Json kNull;
  const bool found = v.is_object() && v.contains(key);
  EXPECT_TRUE(found) << "no key " << key;
  return found ? v.at(key) : kNull;
}

uint64_t Sum(const Json& array) {
  uint64_t s = 0;
  for (const Json& v : array) s += v.get<uint64_t>();
  return s;
}

// Row-major normalised copy, as the manager normalises candidates.
std::vector<float> Normalised(const EmbeddingTable& t) {
  std::vector<float> out = t.values;
  for (size_t i = 0; i < t.size(); ++i) {
    double sq = 0;
    for (size_t j = 0; j < t.dimension; ++j)
      sq += out[i * t.dimension + j] * out[i * t.dimension + j];
    for (size_t j = 0; j < t.dimension; ++j)
      out[i * t.dimension + j] /= std::sqrt(sq);
  }
  return out;
}

TEST(SelectionReportTest, OddFilenamesStayValidJsonAndHtml) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams params = Count("p", 3);
  params.dry_run = true;
  params.dry_run_report = true;
  EmbeddingTable t = RandomTable(8, 3, 5);
  t.filenames[0] = "quote\"and'apos.jpg";
  t.filenames[1] = "<script>alert(1)</script>.jpg";
  t.filenames[2] = "new\nline&amp.jpg";
  t.filenames[3] = std::string("bad\xff\xfe utf8 \xe2\x82.jpg");
  t.filenames[4] = "caf\xc3\xa9.jpg";  // valid UTF-8 stays
  auto out = manager->Select(params, t);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->report.has_value());
  auto json = ParseJson(out->report->json);
  ASSERT_TRUE(json.ok()) << json.status();
  std::vector<std::string> names;
  for (const char* group : {"pool", "rejected", "picks"}) {
    for (const Json& v :
         Get(Get(Get(*json, "projection"), group), "filenames")) {
      names.push_back(v.get<std::string>());
    }
  }
  EXPECT_THAT(names, ::testing::Contains("quote\"and'apos.jpg"));
  EXPECT_THAT(names, ::testing::Contains("new\nline&amp.jpg"));
  EXPECT_THAT(
      names,
      ::testing::Contains(
          "bad\xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd.jpg"));
  EXPECT_THAT(names, ::testing::Contains("caf\xc3\xa9.jpg"));
  const std::string& html = out->report->html;
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;.jpg"));
  EXPECT_THAT(html, HasSubstr("quote&quot;and&#39;apos.jpg"));
  EXPECT_THAT(html, Not(HasSubstr("\xff")));
  // A committed selection must not ask for a dry-run report.
  params.dry_run = false;
  EXPECT_EQ(manager->Select(params, t).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KCenterFinalDistancesTest, MatchBruteForceIncludingTheLastPick) {
  const EmbeddingTable pool_t = RandomTable(20, 6, 1);
  const EmbeddingTable cand_t = RandomTable(300, 6, 2);
  const std::vector<float> pool = Normalised(pool_t), cand = Normalised(cand_t);
  KCenterInput in;
  in.candidates = cand.data();
  in.n = 300;
  in.d = 6;
  in.pool = pool.data();
  in.p = 20;
  in.nearest_pool = NearestBruteForce(cand.data(), 300, pool.data(), 20, 6);
  in.eligible.assign(300, 1);
  in.eligible[7] = 0;
  KCenterOptions options;
  options.max_picks = 10;  // the last pick runs no pass of its own
  options.final_distances = true;
  const KCenterResult r = KCenterGreedy(in, options);
  ASSERT_EQ(r.picks.size(), 10u);
  ASSERT_EQ(r.final_sq.size(), 300u);
  std::vector<uint8_t> picked(300, 0);
  for (size_t i : r.picks) picked[i] = 1;
  for (size_t i = 0; i < 300; ++i) {
    if (!in.eligible[i] || picked[i]) {
      EXPECT_LT(r.final_sq[i], 0) << i;
      continue;
    }
    float want = std::numeric_limits<float>::infinity();
    for (size_t c = 0; c < 20; ++c) {
      want = std::min(want, SquaredDistance(&cand[i * 6], &pool[c * 6], 6));
    }
    for (size_t k : r.picks) {
      want = std::min(want, SquaredDistance(&cand[i * 6], &cand[k * 6], 6));
    }
    EXPECT_EQ(r.final_sq[i], want) << i;
  }
  // Without the option nothing is kept.
  options.final_distances = false;
  EXPECT_TRUE(KCenterGreedy(in, options).final_sq.empty());
}

// A KCenterDevice in plain C++ (the passes as the CUDA one does them), which
// can fail its n-th Take and may return its distances.
class SoftwareDevice : public KCenterDevice {
 public:
  SoftwareDevice(int fail_at_take, bool distances)
      : fail_at_take_(fail_at_take), distances_(distances) {}
  bool Load(const float* candidates, size_t n, size_t d, const float* min_sq,
            std::string*) override {
    x_ = candidates;
    n_ = n;
    d_ = d;
    min_sq_.assign(min_sq, min_sq + n);
    return true;
  }
  bool Take(size_t i, int64_t* best, float* best_sq,
            std::string* error) override {
    if (++takes_ == fail_at_take_) {
      *error = "device lost";
      return false;
    }
    min_sq_[i] = -1;
    *best = -1;
    for (size_t j = 0; j < n_; ++j) {
      if (min_sq_[j] < 0) continue;
      min_sq_[j] =
          std::min(min_sq_[j], SquaredDistance(x_ + j * d_, x_ + i * d_, d_));
      if (*best < 0 || min_sq_[j] > *best_sq) {
        *best = static_cast<int64_t>(j);
        *best_sq = min_sq_[j];
      }
    }
    return true;
  }
  bool Distances(float* min_sq, std::string* error) override {
    if (!distances_) return KCenterDevice::Distances(min_sq, error);
    std::copy(min_sq_.begin(), min_sq_.end(), min_sq);
    return true;
  }

 private:
  const int fail_at_take_;
  const bool distances_;
  int takes_ = 0;
  const float* x_ = nullptr;
  size_t n_ = 0, d_ = 0;
  std::vector<float> min_sq_;
};

TEST(KCenterFinalDistancesTest, PreselectedBeyondMaxPicksAndDevices) {
  const EmbeddingTable cand_t = RandomTable(200, 5, 4);
  const std::vector<float> cand = Normalised(cand_t);
  KCenterInput in;
  in.candidates = cand.data();
  in.n = 200;
  in.d = 5;
  in.eligible.assign(200, 1);
  in.preselected = {3, 50, 99, 150};  // more than max_picks
  KCenterOptions options;
  options.max_picks = 2;
  options.final_distances = true;
  const KCenterResult cpu = KCenterGreedy(in, options);
  ASSERT_EQ(cpu.picks, in.preselected);
  ASSERT_EQ(cpu.final_sq.size(), 200u);
  for (size_t i = 0; i < 200; ++i) {
    const bool picked =
        std::count(in.preselected.begin(), in.preselected.end(), i) > 0;
    if (picked) {
      EXPECT_LT(cpu.final_sq[i], 0) << i;
      continue;
    }
    float want = std::numeric_limits<float>::infinity();
    for (size_t k : in.preselected) {
      want = std::min(want, SquaredDistance(&cand[i * 5], &cand[k * 5], 5));
    }
    EXPECT_EQ(cpu.final_sq[i], want) << i;
  }

  // Devices: one that returns distances gives the CPU's; one that cannot
  // keeps its picks without them; one that fails mid-way is redone on the
  // CPU, distances included.
  in.preselected.clear();
  options.max_picks = 12;
  const KCenterResult want = KCenterGreedy(in, options);
  ASSERT_EQ(want.picks.size(), 12u);
  SoftwareDevice full(/*fail_at_take=*/0, /*distances=*/true);
  options.device = &full;
  KCenterResult r = KCenterGreedy(in, options);
  EXPECT_EQ(r.picks, want.picks);
  EXPECT_EQ(r.final_sq, want.final_sq);
  EXPECT_EQ(r.device_error, "");
  SoftwareDevice no_distances(0, false);
  options.device = &no_distances;
  r = KCenterGreedy(in, options);
  EXPECT_EQ(r.picks, want.picks);
  EXPECT_TRUE(r.final_sq.empty());
  EXPECT_EQ(r.device_error, "");
  SoftwareDevice failing(/*fail_at_take=*/5, false);
  options.device = &failing;
  r = KCenterGreedy(in, options);
  EXPECT_EQ(r.picks, want.picks);
  EXPECT_EQ(r.stop_reason, StopReason::kNSamples);
  EXPECT_EQ(r.final_sq, want.final_sq);
  EXPECT_EQ(r.device_error, "device lost");
}

TEST(SelectionReportTest, CommittedSelectionsWriteAConsistentReport) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  ASSERT_TRUE(
      manager->Select(Count("p", 30), RandomTable(200, 8, 1, "a")).ok());
  SelectParams params = Count("p", 40);
  params.min_distance = 0.2;
  // Plain k-center: the "after" bound checked below is its property.
  params.config = SelectionConfig::Diversity();
  // Thumbnails: every "b" candidate has an image; "b7" cannot be read.
  std::vector<std::string> loaded;
  params.thumbnails =
      [&loaded](absl::string_view name) -> absl::StatusOr<Thumbnail> {
    loaded.emplace_back(name);
    if (name == "b7.jpg") return absl::NotFoundError("gone");
    RgbImage image;
    image.width = image.height = 8;
    image.pixels.assign(8 * 8 * 3, 128);
    return Thumbnail{"image/bmp", EncodeBmp(image)};
  };
  EmbeddingTable candidates = RandomTable(500, 8, 2, "b");
  const std::vector<float> normalised = Normalised(candidates);
  auto out = manager->Select(params, candidates);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->committed);
  EXPECT_EQ(out->report_error, "");
  EXPECT_EQ(out->report_folder, tmp.path() + "/p/reports/2");
  EXPECT_FALSE(out->report.has_value());

  auto stored = manager->GetReport("p", 0, true);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->version, 2u);
  EXPECT_EQ(stored->folder, out->report_folder);
  auto json = ParseJson(stored->json);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(Get(*json, "pool").get<std::string>(), "p");
  EXPECT_EQ(Get(*json, "version").get<double>(), 2);
  EXPECT_TRUE(Get(*json, "committed").get<bool>());
  EXPECT_EQ(Get(*json, "stop_reason").get<std::string>(),
            StopReasonName(out->stop_reason));
  const Json& counts = Get(*json, "counts");
  const uint64_t picks = out->selected.size();
  EXPECT_EQ(Get(counts, "selected").get<double>(), picks);
  EXPECT_EQ(Get(counts, "eligible").get<double>(), 500);
  EXPECT_EQ(Get(counts, "rejected").get<double>(), 500 - picks);
  EXPECT_EQ(Get(counts, "pool_size_before").get<double>(), 30);
  EXPECT_EQ(Get(counts, "pool_size_after").get<double>(), 30 + picks);
  EXPECT_EQ(Get(Get(*json, "parameters"), "min_distance").get<double>(), 0.2);

  // Histograms: every eligible candidate before, every rejected one after;
  // after the selection the farthest rejected candidate is no farther than
  // the last pick was (greedy k-center), and below min_distance when that
  // stopped it.
  const Json& dist = Get(*json, "distance_to_pool");
  EXPECT_EQ(Sum(Get(Get(dist, "histogram"), "before")), 500u);
  EXPECT_EQ(Sum(Get(Get(dist, "histogram"), "after")), 500u - picks);
  const double after_max = Get(Get(dist, "after"), "max").get<double>();
  EXPECT_LE(after_max, *out->selected.back().distance + 1e-6);
  if (out->stop_reason == StopReason::kMinDistance) {
    EXPECT_LT(after_max, 0.2);
  }
  EXPECT_GT(Get(Get(dist, "before"), "max").get<double>(), after_max);

  // The projection shows every group (small enough to show all).
  const Json& proj = Get(*json, "projection");
  EXPECT_EQ(Get(Get(proj, "pool"), "shown").get<double>(), 30);
  EXPECT_EQ(Get(Get(proj, "picks"), "shown").get<double>(), picks);
  EXPECT_EQ(Get(Get(proj, "rejected"), "x").size(), 500 - picks);
  EXPECT_GT(Get(proj, "explained_variance")[0].get<double>(), 0);

  // Pairs: each pick's nearest rejected candidate is the true nearest.
  const Json& pairs = Get(*json, "pairs");
  ASSERT_EQ(pairs.size(), 6u);
  for (const Json& pair : pairs) {
    const std::string pick = Get(pair, "pick").get<std::string>();
    const size_t pi = std::stoul(pick.substr(1));
    float best = 1e9;
    std::string best_name;
    for (size_t i = 0; i < 500; ++i) {
      bool is_pick = false;
      for (const SelectedSample& s : out->selected)
        is_pick |= s.filename == candidates.filenames[i];
      if (is_pick) continue;
      const float sq =
          SquaredDistance(&normalised[pi * 8], &normalised[i * 8], 8);
      if (sq < best) {
        best = sq;
        best_name = candidates.filenames[i];
      }
    }
    EXPECT_EQ(Get(pair, "nearest_rejected").get<std::string>(), best_name)
        << pick;
    EXPECT_NEAR(Get(pair, "nearest_rejected_distance").get<double>(),
                std::sqrt(best), 1e-5);
  }
  EXPECT_EQ(loaded.size(), 12u);

  // The page: self-contained, the three plots, thumbnails.
  const std::string& html = stored->html;
  EXPECT_THAT(html, HasSubstr("Content-Security-Policy"));
  EXPECT_THAT(html, HasSubstr("id=\"plot-histogram\""));
  EXPECT_THAT(html, HasSubstr("id=\"plot-picks\""));
  EXPECT_THAT(html, HasSubstr("id=\"plot-projection\""));
  EXPECT_THAT(html, HasSubstr("data:image/bmp;base64,"));
  EXPECT_THAT(html, HasSubstr("min_distance 0.2"));
  // No address but the SVG namespace: nothing is fetched.
  const std::regex url("(src|href)=\"(https?:|//)");
  EXPECT_FALSE(std::regex_search(html, url));
  std::string file_html;
  auto on_disk = ReadFile(out->report_folder + "/report.html");
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, html);

  // Version 1 has its own report; a missing one is NotFound.
  auto first = manager->GetReport("p", 1, false);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->html, "");
  EXPECT_EQ(manager->GetReport("p", 7, false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->GetReport("nope", 0, false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->GetReport("../x", 0, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SelectionReportTest, DryRunReportIsReturnedNotWritten) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams params = Count("p", 5);
  params.dry_run = true;
  auto plain = manager->Select(params, RandomTable(50, 4, 1));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->report.has_value());
  params.dry_run_report = true;
  auto out = manager->Select(params, RandomTable(50, 4, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->report.has_value());
  EXPECT_FALSE(out->committed);
  EXPECT_EQ(out->report_folder, "");
  auto json = ParseJson(out->report->json);
  ASSERT_TRUE(json.ok());
  EXPECT_FALSE(Get(*json, "committed").get<bool>());
  EXPECT_EQ(Get(*json, "version").get<double>(), 1);
  // An empty pool has no "before".
  EXPECT_TRUE(Get(Get(*json, "distance_to_pool"), "before").is_null());
  EXPECT_THAT(out->report->html, HasSubstr("dry run"));
  EXPECT_THAT(out->report->html, HasSubstr("image not reachable"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/p"));
}

TEST(SelectionReportTest, StoppingRulesAsGiven) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams params;
  params.pool = "p";
  params.dry_run = true;
  params.dry_run_report = true;
  // A fraction: report.json keeps both n_samples keys, the count null.
  params.n_samples = *SampleLimit::Fraction(0.25);
  params.min_distance = 0.1;
  auto out = manager->Select(params, RandomTable(40, 4, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->report.has_value());
  auto json = ParseJson(out->report->json);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(out->report->json,
              HasSubstr("\"parameters\":{\"n_samples_count\":null,"
                        "\"n_samples_fraction\":0.25,\"min_distance\":0.1}"));
  EXPECT_THAT(
      out->report->html,
      HasSubstr("<tr><th>Stopping rules</th><td class=\"n\">n_samples 0.25 of "
                "eligible, min_distance 0.1</td></tr>"));
  // A count.
  params.min_distance.reset();
  params.n_samples = *SampleLimit::Count(7);
  out = manager->Select(params, RandomTable(40, 4, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->report->json,
              HasSubstr("\"parameters\":{\"n_samples_count\":7,"
                        "\"n_samples_fraction\":null,\"min_distance\":null}"));
  EXPECT_THAT(
      out->report->html,
      HasSubstr(
          "<tr><th>Stopping rules</th><td class=\"n\">n_samples 7</td></tr>"));
  // Only min_distance.
  params.n_samples.reset();
  params.min_distance = 0.5;
  out = manager->Select(params, RandomTable(40, 4, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->report->json,
              HasSubstr("\"parameters\":{\"n_samples_count\":null,"
                        "\"n_samples_fraction\":null,\"min_distance\":0.5}"));
  EXPECT_THAT(out->report->html,
              HasSubstr("<td class=\"n\">min_distance 0.5</td>"));
}

TEST(SelectionReportTest,
     AReportThatCannotBeWrittenLeavesTheSelectionCommitted) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  ASSERT_TRUE(manager->Select(Count("p", 3), RandomTable(20, 4, 1, "a")).ok());
  // A file where the reports folder should be.
  fs::remove_all(tmp.path() + "/p/reports");
  ASSERT_TRUE(WriteFileAtomically(tmp.path() + "/p/reports", "x").ok());
  auto out = manager->Select(Count("p", 3), RandomTable(20, 4, 2, "b"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->committed);
  EXPECT_EQ(out->version, 2u);
  EXPECT_THAT(out->report_error, HasSubstr("reports"));
  EXPECT_EQ(out->report_folder, "");
  auto info = manager->GetPool("p");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta.size, 6u);
}

TEST(SelectionReportTest, RestoredVersionsHaveNoReportButTheNewestIsFound) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  ASSERT_TRUE(manager->Select(Count("p", 3), RandomTable(20, 4, 1, "a")).ok());
  ASSERT_TRUE(manager->Select(Count("p", 3), RandomTable(20, 4, 2, "b")).ok());
  ASSERT_TRUE(manager->RestoreVersion("p", 1).ok());  // version 3
  auto missing = manager->GetReport("p", 3, false);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("restore"));
  auto newest = manager->GetReport("p", 0, false);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->version, 2u);
}

TEST(SelectionReportTest, LargeSelectionsAreSampled) {
  TempDir tmp;
  auto manager = Open(tmp.path());
  SelectParams params = Count("p", 2500);
  auto out = manager->Select(params, RandomTable(6000, 4, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  auto stored = manager->GetReport("p", 0, true);
  ASSERT_TRUE(stored.ok());
  auto json = ParseJson(stored->json);
  ASSERT_TRUE(json.ok());
  const Json& picks = Get(Get(*json, "projection"), "picks");
  EXPECT_EQ(Get(picks, "total").get<double>(), 2500);
  EXPECT_EQ(Get(picks, "shown").get<double>(),
            SelectionReportLimits().projection_points);
  EXPECT_EQ(Get(*json, "selected").size(),
            SelectionReportLimits().listed_picks);
  EXPECT_FALSE(Get(*json, "selected_listed_all").get<bool>());
  EXPECT_LT(stored->html.size(), 1u << 20);
}

}  // namespace
}  // namespace datapool
