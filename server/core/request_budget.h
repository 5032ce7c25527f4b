// RequestBudget: the limits on what one request may bring (how many
// candidates, how long their names, how many bytes they hold in the
// server) and the rule that a request's candidates are embeddings or
// images, never both. One budget per request, shared by every part that
// takes candidates in (embedding rows, image paths, uploads).
#ifndef DATAPOOL_SERVER_CORE_REQUEST_BUDGET_H_
#define DATAPOOL_SERVER_CORE_REQUEST_BUDGET_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace datapool {

// Limits on one request, beyond gRPC's message size. The defaults are the
// server's (its flags start from them).
struct RequestLimits {
  // Candidates (or queries) in one Select, SelectStream, Search or Embed
  // call: embedding rows, or images (uploads plus files found under input
  // paths). Beyond it ResourceExhausted. Default 10,000,000.
  size_t max_candidates = 10000000;
  // Longest sample filename in bytes; longer: InvalidArgument. Default 1024.
  size_t max_filename_bytes = 1024;
  // Bytes the candidates of one call may hold in the server: embedding rows
  // as 4 bytes a value plus the filename, images as their embedding (the
  // image bytes themselves are bounded per image and per pipeline). Beyond
  // it ResourceExhausted. Default 1 GiB.
  size_t max_request_bytes = size_t{1} << 30;
};

// Not thread-safe (one per request, on its handler's thread).
class RequestBudget {
 public:
  explicit RequestBudget(const RequestLimits& limits) : limits_(limits) {}

  // Before taking `rows` embedding rows of `values` values in all:
  // InvalidArgument when images came before, ResourceExhausted beyond the
  // limits. Then AddRowName for each row.
  absl::Status AddRows(size_t rows, size_t values);
  // An embedding row's filename: InvalidArgument when too long or not a
  // valid sample name; ResourceExhausted beyond max_request_bytes.
  absl::Status AddRowName(absl::string_view filename);

  // Before taking images: InvalidArgument when embedding rows came before.
  absl::Status UseImages();
  // `skipped` files that count as images but are not embedded.
  absl::Status AddSkippedImages(size_t skipped);
  // One image named `filename`, to become an embedding of `dimension`
  // floats: ResourceExhausted beyond the limits.
  absl::Status AddImage(absl::string_view filename, size_t dimension);
  // Column values for the candidates (SelectRequest.columns): `values`
  // numbers keyed by filenames of `key_bytes` in all. ResourceExhausted
  // beyond max_request_bytes.
  absl::Status AddColumnValues(size_t values, size_t key_bytes);
  // An uploaded image's name: InvalidArgument when too long or not a valid
  // sample name.
  absl::Status CheckUploadName(absl::string_view filename) const;

  const RequestLimits& limits() const { return limits_; }

 private:
  enum class Kind { kNone, kRows, kImages };
  absl::Status Use(Kind kind);
  absl::Status TooMany(absl::string_view what) const;
  absl::Status CheckBytes() const;

  const RequestLimits limits_;
  Kind kind_ = Kind::kNone;
  size_t count_ = 0;  // rows or images taken
  size_t bytes_ = 0;  // as max_request_bytes counts them
};

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_REQUEST_BUDGET_H_
