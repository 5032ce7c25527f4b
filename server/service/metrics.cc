#include "server/service/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace datapool {
namespace {

std::string Escape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string LabelText(const Metrics::Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    absl::StrAppend(&out, out.empty() ? "" : ",", key, "=\"", Escape(value),
                    "\"");
  }
  return out;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrFormat("%.0f", v);
  }
  return absl::StrFormat("%.9g", v);
}

std::string Braced(absl::string_view labels, absl::string_view extra = "") {
  if (labels.empty() && extra.empty()) return "";
  return absl::StrCat("{", labels, !labels.empty() && !extra.empty() ? "," : "",
                      extra, "}");
}

}  // namespace

void Metrics::Declare(const std::string& name, absl::string_view type,
                      absl::string_view help, std::vector<double> buckets) {
  absl::MutexLock lock(&mu_);
  if (families_.count(name)) return;
  order_.push_back(name);
  Family& f = families_[name];
  f.type = std::string(type);
  f.help = std::string(help);
  f.buckets = std::move(buckets);
}

Metrics::Series& Metrics::Find(const std::string& name, const Labels& labels) {
  Family& f = families_[name];  // undeclared: rendered as untyped
  if (f.type.empty()) {
    f.type = "untyped";
    order_.push_back(name);
  }
  Series& s = f.series[LabelText(labels)];
  if (f.type == "histogram" && s.counts.empty()) {
    s.counts.assign(f.buckets.size() + 1, 0);
  }
  return s;
}

void Metrics::Add(const std::string& name, const Labels& labels, double delta) {
  absl::MutexLock lock(&mu_);
  Find(name, labels).value += delta;
}

void Metrics::Set(const std::string& name, const Labels& labels, double value) {
  absl::MutexLock lock(&mu_);
  Find(name, labels).value = value;
}

void Metrics::Observe(const std::string& name, const Labels& labels,
                      double value) {
  absl::MutexLock lock(&mu_);
  Series& s = Find(name, labels);
  const std::vector<double>& buckets = families_[name].buckets;
  size_t b = 0;
  while (b < buckets.size() && value > buckets[b]) ++b;
  if (s.counts.size() <= b) s.counts.resize(buckets.size() + 1, 0);
  ++s.counts[b];
  s.sum += value;
  ++s.count;
}

void Metrics::Clear(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.clear();
}

void Metrics::OnRender(std::function<void(Metrics&)> refresh) {
  absl::MutexLock lock(&mu_);
  refreshers_.push_back(std::move(refresh));
}

std::string Metrics::Render() {
  std::vector<std::function<void(Metrics&)>> refreshers;
  {
    absl::MutexLock lock(&mu_);
    refreshers = refreshers_;
  }
  for (auto& refresh : refreshers) refresh(*this);
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_[name];
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ",
                    f.type, "\n");
    for (const auto& [labels, s] : f.series) {
      if (f.type != "histogram") {
        absl::StrAppend(&out, name, Braced(labels), " ", Number(s.value), "\n");
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t b = 0; b <= f.buckets.size(); ++b) {
        cumulative += b < s.counts.size() ? s.counts[b] : 0;
        const std::string le =
            b < f.buckets.size() ? Number(f.buckets[b]) : "+Inf";
        absl::StrAppend(&out, name, "_bucket",
                        Braced(labels, absl::StrCat("le=\"", le, "\"")), " ",
                        cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_sum", Braced(labels), " ", Number(s.sum),
                      "\n", name, "_count", Braced(labels), " ", s.count, "\n");
    }
  }
  return out;
}

void Metrics::DeclareServiceMetrics(Metrics* m) {
  const std::vector<double> seconds = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                       1,     5,     10,   30,   60,  300};
  m->Declare("datapool_rpc_requests_total", "counter",
             "Datapool RPCs handled, by method and status code.");
  m->Declare("datapool_rpc_duration_seconds", "histogram",
             "Time from a Datapool RPC's start to its status, by method.",
             seconds);
  m->Declare("datapool_rpc_in_flight", "gauge",
             "Datapool RPCs being handled now, queued ones included.");
  m->Declare("datapool_work_queue_depth", "gauge",
             "Heavy calls (select, embed, search, merge) waiting for a slot.");
  m->Declare("datapool_images_embedded_total", "counter",
             "Images decoded and embedded by the model.");
  m->Declare("datapool_images_skipped_total", "counter",
             "Images that could not be used (unreadable, corrupt, too large).");
  m->Declare("datapool_selection_seconds", "histogram",
             "Time of a selection (k-center and its pool search).", seconds);
  m->Declare("datapool_commit_seconds", "histogram",
             "Time to write a new pool version to disk.", seconds);
  m->Declare("datapool_report_seconds", "histogram",
             "Time to build and write a selection report.", seconds);
  m->Declare("datapool_pools", "gauge", "Pools this server holds.");
  m->Declare("datapool_pool_samples", "gauge", "Samples in each pool.");
}

}  // namespace datapool
