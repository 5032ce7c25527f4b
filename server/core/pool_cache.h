// The pool's binary cache, `datapool_cache.bin`: the rows of
// datapool_latest.csv in binary form, so a large pool loads without parsing
// its CSV. Derived data: it names the checksum of the CSV it was made from
// and is used only when that matches and its own checksum holds; otherwise
// the CSV is parsed. Deleting it is always safe.
//
// Layout, little-endian: "DPCACHE1", the CSV checksum (64 bytes, text,
// zero-padded), rows, dimension, filename bytes and XXH3 of the payload
// (uint64 each), then the payload: rows × dimension float32 values, rows
// int64 labels, rows uint32 filename lengths, the filenames' bytes.
#ifndef DATAPOOL_SERVER_CORE_POOL_CACHE_H_
#define DATAPOOL_SERVER_CORE_POOL_CACHE_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/embedding_table.h"

namespace datapool {

inline constexpr char kCacheFileName[] = "datapool_cache.bin";

// The cache of `table` (values, labels and filenames; optional columns are
// not kept) made from the CSV whose checksum is `csv_checksum`.
std::string EncodePoolCache(const EmbeddingTable& table,
                            absl::string_view csv_checksum);

// The table in `bytes` when it is a whole, intact cache made from the CSV
// with checksum `csv_checksum`; nullopt otherwise.
std::optional<EmbeddingTable> DecodePoolCache(absl::string_view bytes,
                                              absl::string_view csv_checksum);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_CORE_POOL_CACHE_H_
