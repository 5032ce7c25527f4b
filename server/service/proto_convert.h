// Conversions between datapool.v1 messages and core types. No logic beyond
// copying fields and checking shapes.
#ifndef DATAPOOL_SERVER_SERVICE_PROTO_CONVERT_H_
#define DATAPOOL_SERVER_SERVICE_PROTO_CONVERT_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datapool/v1/datapool.pb.h"
#include "server/core/pool_manager.h"

namespace datapool {

SelectParams FromProto(const v1::SelectionParams& proto);
// InvalidArgument for an unknown collision rule.
absl::StatusOr<MergeParams> FromProto(const v1::MergePoolsRequest& proto);

// Appends the block's rows to `table`. InvalidArgument when its shape is
// inconsistent (values not filenames × dimension, labels neither empty nor
// one per row) or its dimension differs from the rows already there.
absl::Status AppendBlock(const v1::EmbeddingBlock& block, EmbeddingTable* table);

void ToProto(const SelectOutcome& outcome, v1::SelectResponse* proto);
void ToProto(const SearchOutcome& outcome, v1::SearchResponse* proto);
// The raw embeddings and skipped files (not the fingerprint).
void ToProto(const EmbeddedImages& images, v1::EmbedResponse* proto);
void ToProto(const PoolInfo& info, v1::PoolInfo* proto);
void ToProto(const MergeOutcome& outcome, v1::MergePoolsResponse* proto);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_PROTO_CONVERT_H_
