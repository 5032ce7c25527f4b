// Prometheus metrics of the service: counters, gauges and histograms with
// labels, rendered in the text exposition format (version 0.0.4). Served by
// the application over HTTP (server/app/metrics_http.h).
#ifndef DATAPOOL_SERVER_SERVICE_METRICS_H_
#define DATAPOOL_SERVER_SERVICE_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace datapool {

// Thread-safe. Metric names and label names are fixed by the caller; label
// values are escaped on output.
class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Declares a metric (its HELP and TYPE lines). `type`: counter, gauge or
  // histogram. Histograms get `buckets` (upper bounds, ascending; +Inf is
  // added).
  void Declare(const std::string& name, absl::string_view type,
               absl::string_view help, std::vector<double> buckets = {});

  void Add(const std::string& name, const Labels& labels, double delta = 1);
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);
  // Drops every series of `name` (e.g. before re-setting per-pool gauges).
  void Clear(const std::string& name);

  // Called at each Render to set gauges whose values live elsewhere (e.g.
  // pool sizes); it may call Set.
  void OnRender(std::function<void(Metrics&)> refresh);

  // Every declared metric, in declaration order.
  std::string Render();

  // The service's metrics, declared with their help texts.
  static void DeclareServiceMetrics(Metrics* metrics);

 private:
  struct Series {
    double value = 0;              // counter / gauge
    std::vector<uint64_t> counts;  // histogram: per bucket (not cumulative)
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string type;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series& Find(const std::string& name, const Labels& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(Metrics&)>> refreshers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_METRICS_H_
