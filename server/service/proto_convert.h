// Conversions between datapool.v1 messages and core types: the one place
// the wire meets the domain. No logic beyond copying fields, checking
// shapes and filling unset fields with the core's defaults.
#ifndef DATAPOOL_SERVER_SERVICE_PROTO_CONVERT_H_
#define DATAPOOL_SERVER_SERVICE_PROTO_CONVERT_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/pool_manager.h"
#include "server/core/pool_store.h"

namespace datapool {

// The selection's parameters; unset optional fields take SelectParams'
// defaults (an unset config: SelectionConfig::Typical()). InvalidArgument
// for an n_samples count of 0 or a fraction outside (0, 1] (the
// SampleLimit rules), or a bad config.
absl::StatusOr<SelectParams> FromProto(const v1::SelectionParams& proto);
// InvalidArgument naming the field for an unknown input or strategy, and
// for what ValidateSelectionConfig refuses.
absl::StatusOr<SelectionConfig> FromProto(const v1::SelectionConfig& proto);
// InvalidArgument for an unknown collision rule.
absl::StatusOr<MergeParams> FromProto(const v1::MergePoolsRequest& proto);

// Whether images get their folder's label (SelectionParams and
// EmbedRequest's append_weak_labels; unset: yes).
template <typename Message>
bool WeakLabelsOf(const Message& proto) {
  return !proto.has_append_weak_labels() || proto.append_weak_labels();
}

// Appends the block's rows to `table`. InvalidArgument when its shape is
// inconsistent (values not filenames × dimension, labels neither empty nor
// one per row) or its dimension differs from the rows already there.
absl::Status AppendBlock(const v1::EmbeddingBlock& block,
                         EmbeddingTable* table);

// The wire's StopReason (the client side maps it back once, in the CLI).
v1::StopReason ToProto(StopReason reason);

void ToProto(const SelectOutcome& outcome, v1::SelectResponse* proto);
void ToProto(const SearchOutcome& outcome, v1::SearchResponse* proto);
// The raw embeddings and skipped files (not the fingerprint).
void ToProto(const EmbeddedImages& images, v1::EmbedResponse* proto);
void ToProto(const PoolInfo& info, v1::PoolInfo* proto);
void ToProto(const MergeOutcome& outcome, v1::MergePoolsResponse* proto);
void ToProto(const PoolManager::VersionInfo& version, v1::HistoryEntry* proto);
void ToProto(StoredReport report, v1::SelectionReport* proto);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_PROTO_CONVERT_H_
