#include "common/embedding_table.h"

namespace datapool {

void EmbeddingTable::Append(const EmbeddingTable& other) {
  if (size() == 0) dimension = other.dimension;
  filenames.insert(filenames.end(), other.filenames.begin(),
                   other.filenames.end());
  values.insert(values.end(), other.values.begin(), other.values.end());
  labels.insert(labels.end(), other.labels.begin(), other.labels.end());
  selected.clear();
  masked.clear();
}

}  // namespace datapool
