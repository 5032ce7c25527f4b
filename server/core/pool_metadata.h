// The pool's metadata file, `datapool_meta.json`, beside the CSV.
#ifndef DATAPOOL_SERVER_CORE_POOL_METADATA_H_
#define DATAPOOL_SERVER_CORE_POOL_METADATA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace datapool {

inline constexpr char kMetadataFileName[] = "datapool_meta.json";
inline constexpr char kCsvFileName[] = "datapool_latest.csv";
inline constexpr char kCheckpointFileName[] = "checkpoint_latest.ckpt";
inline constexpr char kHistoryDirName[] = "history";
// Beside the checkpoint, not versioned: what `train` needs to continue the
// run that made the current checkpoint (a header line naming that model's
// fingerprint, then the trainer's state). Ignored when the fingerprint is
// not the pool's model's (after a restore, a set-model or another train).
inline constexpr char kTrainStateFileName[] = "train_state.bin";
// In history/: the rows a version appended to its base version, for a
// version kept as those rows rather than as a whole CSV.
inline constexpr char kAppendedFileName[] = "datapool_appended.csv";

// A plain value type.
struct PoolMetadata {
  // Layout version of this file.
  int format_version = 1;
  // Floats per embedding; fixed once the pool exists.
  size_t dimension = 0;
  // 1 for the first commit, +1 per commit.
  uint64_t version = 0;
  // Rows in datapool_latest.csv.
  uint64_t size = 0;
  // Embeddings were normalised to unit length before they were stored.
  bool normalized = true;
  // Hash of the model file that produced the embeddings; empty when the
  // embeddings came from clients.
  std::string model_fingerprint;
  // Input size of that model in pixels (0 without a model).
  int input_size = 0;
  absl::Time created = absl::UnixEpoch();
  absl::Time updated = absl::UnixEpoch();
  // Checksum() of datapool_latest.csv: tells whether the CSV on disk is
  // the one this file describes (a crash between the two renames).
  std::string csv_checksum;
  // For a version that appended rows to the one before (a selection or a
  // merge): that version, and its size (the first base_size rows here are
  // its rows). 0 for a version made whole (first commit, restore, adopted
  // CSV). Lets history keep such a version as the rows it appended.
  uint64_t base_version = 0;
  uint64_t base_size = 0;
  // Checksum() of checkpoint_latest.ckpt when this server wrote it (empty
  // for older pools): a crash between writing a new checkpoint and the
  // metadata leaves the old metadata with the new file, which Load
  // repairs from history/.
  std::string checkpoint_checksum;
};

std::string MetadataToJson(const PoolMetadata& meta);
// InvalidArgument when the text is not such a file.
absl::StatusOr<PoolMetadata> MetadataFromJson(absl::string_view text);

// RFC 3339 UTC with milliseconds: 2026-11-28T06:04:48.123Z.
std::string TimeToRfc3339(absl::Time t);

// The checksum recorded for a CSV: XXH3 64-bit of `data`, "xxh3:" and 16
// hex digits.
std::string Checksum(absl::string_view data);
// The checksum of `data` by the algorithm that made `recorded`: Checksum's,
// or FNV-1a 64 (16 bare hex digits) for metadata written by version 0.1.
std::string ChecksumLike(absl::string_view data, absl::string_view recorded);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_METADATA_H_
