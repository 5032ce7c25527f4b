#include "server/backends/faiss/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <exception>
#include <limits>

#include "absl/strings/str_cat.h"

namespace datapool {
namespace {

template <typename Fn>
absl::Status Guard(const char* what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("FAISS ", what, ": out of memory"));
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(absl::StrCat("FAISS ", what, ": ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("FAISS ", what, ": ", e.what()));
  }
}

}  // namespace

struct FaissFlatIndex::Impl {
  explicit Impl(size_t d) : index(static_cast<int64_t>(d)) {}
  faiss::IndexFlatL2 index;
};

VectorIndexFactory FaissFlatIndex::Factory() {
  return [](size_t dimension) -> absl::StatusOr<std::unique_ptr<VectorIndex>> {
    if (dimension == 0) {
      return absl::InvalidArgumentError("index dimension must be >= 1");
    }
    return std::make_unique<FaissFlatIndex>(dimension);
  };
}

FaissFlatIndex::FaissFlatIndex(size_t dimension)
    : impl_(std::make_unique<Impl>(dimension)) {}
FaissFlatIndex::~FaissFlatIndex() = default;

size_t FaissFlatIndex::dimension() const {
  return static_cast<size_t>(impl_->index.d);
}
size_t FaissFlatIndex::size() const {
  return static_cast<size_t>(impl_->index.ntotal);
}

absl::Status FaissFlatIndex::Add(const float* rows, size_t n) {
  return Guard("add", [&] { impl_->index.add(static_cast<int64_t>(n), rows); });
}

absl::Status FaissFlatIndex::Search(const float* queries, size_t n, size_t k,
                                    float* sq_distances,
                                    int64_t* indices) const {
  if (k == 0 || n == 0) return absl::OkStatus();
  if (impl_->index.ntotal == 0) {
    for (size_t i = 0; i < n * k; ++i) {
      sq_distances[i] = std::numeric_limits<float>::infinity();
      indices[i] = -1;
    }
    return absl::OkStatus();
  }
  return Guard("search", [&] {
    impl_->index.search(static_cast<int64_t>(n), queries,
                        static_cast<int64_t>(k), sq_distances, indices);
  });
}

}  // namespace datapool
