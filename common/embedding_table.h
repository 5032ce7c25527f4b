// EmbeddingTable: named samples with one embedding and one weak label each,
// the content of a lightly embeddings CSV and of a pool.
#ifndef DATAPOOL_COMMON_EMBEDDING_TABLE_H_
#define DATAPOOL_COMMON_EMBEDDING_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace datapool {

// A plain value type; thread-compatible.
struct EmbeddingTable {
  // Floats per row. 0 only for a table with no rows.
  size_t dimension = 0;
  // One per row.
  std::vector<std::string> filenames;
  // size() * dimension floats, row-major.
  std::vector<float> values;
  // One per row (0 when the source had none).
  std::vector<int64_t> labels;
  // The lightly CSV's optional columns: empty when absent, else one per row.
  std::vector<uint8_t> selected;
  std::vector<uint8_t> masked;

  size_t size() const { return filenames.size(); }
  const float* row(size_t i) const { return values.data() + i * dimension; }
  float* mutable_row(size_t i) { return values.data() + i * dimension; }

  // Appends every row of `other` (same dimension; optional columns dropped).
  void Append(const EmbeddingTable& other);
};

}  // namespace datapool

#endif  // DATAPOOL_COMMON_EMBEDDING_TABLE_H_
