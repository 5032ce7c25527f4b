#include "server/core/request_budget.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/image_inputs.h"

namespace datapool {
namespace {

absl::Status CheckName(absl::string_view filename, size_t max_bytes,
                       absl::string_view what) {
  if (filename.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filename '", filename.substr(0, 64), "...' is ",
                     filename.size(), " bytes long; the most allowed is ",
                     max_bytes, " (server flag --max-filename-bytes)"));
  }
  if (absl::Status valid = ValidateSampleFilename(filename); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", valid.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RequestBudget::Use(Kind kind) {
  if (kind_ != Kind::kNone && kind_ != kind) {
    return absl::InvalidArgumentError(
        "give candidates either as embeddings or as images, not both");
  }
  kind_ = kind;
  return absl::OkStatus();
}

absl::Status RequestBudget::TooMany(absl::string_view what) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the request carries more than ", limits_.max_candidates, " ", what,
      ", the most one request may hold (server flag --max-candidates); "
      "split it into several requests"));
}

absl::Status RequestBudget::CheckBytes() const {
  if (bytes_ <= limits_.max_request_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the request's candidates hold more than ",
      limits_.max_request_bytes >> 20,
      " MiB (embedding values at 4 bytes each plus filenames; images count "
      "as their embeddings), the most one request may hold (server flag "
      "--max-request-mb); split it into several requests"));
}

absl::Status RequestBudget::AddColumnValues(size_t values, size_t key_bytes) {
  bytes_ += sizeof(double) * values + key_bytes;
  return CheckBytes();
}

absl::Status RequestBudget::AddRows(size_t rows, size_t values) {
  RETURN_IF_ERROR(Use(Kind::kRows));
  count_ += rows;
  if (count_ > limits_.max_candidates) return TooMany("candidates");
  bytes_ += sizeof(float) * values;
  return absl::OkStatus();
}

absl::Status RequestBudget::AddRowName(absl::string_view filename) {
  RETURN_IF_ERROR(
      CheckName(filename, limits_.max_filename_bytes, "embedding row"));
  bytes_ += filename.size();
  return CheckBytes();
}

absl::Status RequestBudget::UseImages() { return Use(Kind::kImages); }

absl::Status RequestBudget::AddSkippedImages(size_t skipped) {
  count_ += skipped;
  if (count_ > limits_.max_candidates) return TooMany("images");
  return absl::OkStatus();
}

absl::Status RequestBudget::AddImage(absl::string_view filename,
                                     size_t dimension) {
  if (++count_ > limits_.max_candidates) return TooMany("images");
  bytes_ += filename.size() + sizeof(float) * dimension;
  return CheckBytes();
}

absl::Status RequestBudget::CheckUploadName(absl::string_view filename) const {
  return CheckName(filename, limits_.max_filename_bytes, "uploaded image");
}

}  // namespace datapool
