#include "server/backends/faiss/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <exception>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/backends/faiss/fused_nearest.h"

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
  Impl(size_t d, Nearest n) : index(static_cast<int64_t>(d)), nearest(n) {}
  faiss::IndexFlatL2 index;
  Nearest nearest;
  // The rows' squared norms, for FusedNearest (kFused only).
  std::vector<float> norms;
};

VectorIndexFactory FaissFlatIndex::Factory(Nearest nearest) {
  return [nearest](
             size_t dimension) -> absl::StatusOr<std::unique_ptr<VectorIndex>> {
    if (dimension == 0) {
      return absl::InvalidArgumentError("index dimension must be >= 1");
    }
    return std::make_unique<FaissFlatIndex>(dimension, nearest);
  };
}

FaissFlatIndex::FaissFlatIndex(size_t dimension, Nearest nearest)
    : impl_(std::make_unique<Impl>(dimension, nearest)) {}
FaissFlatIndex::~FaissFlatIndex() = default;

size_t FaissFlatIndex::dimension() const {
  return static_cast<size_t>(impl_->index.d);
}
size_t FaissFlatIndex::size() const {
  return static_cast<size_t>(impl_->index.ntotal);
}

absl::Status FaissFlatIndex::Add(const float* rows, size_t n) {
  return Guard("add", [&] {
    if (impl_->nearest == Nearest::kFused) {
      // Norms first: if FAISS's add throws, they are trimmed back.
      const size_t before = impl_->norms.size();
      AppendSquaredNorms(rows, n, dimension(), &impl_->norms);
      try {
        impl_->index.add(static_cast<int64_t>(n), rows);
      } catch (...) {
        impl_->norms.resize(before);
        throw;
      }
    } else {
      impl_->index.add(static_cast<int64_t>(n), rows);
    }
  });
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
  if (k == 1 && n >= kFusedMinQueries && impl_->nearest == Nearest::kFused) {
    return Guard("search", [&] {
      FusedNearest(queries, n, impl_->index.get_xb(), impl_->norms.data(),
                   size(), dimension(), sq_distances, indices);
    });
  }
  if (k > 1 && n >= kFusedMinQueries && impl_->nearest == Nearest::kFused &&
      FusedTopKUsable(size(), k)) {
    return Guard("search", [&] {
      FusedTopK(queries, n, impl_->index.get_xb(), impl_->norms.data(), size(),
                dimension(), k, sq_distances, indices);
    });
  }
  return Guard("search", [&] {
    impl_->index.search(static_cast<int64_t>(n), queries,
                        static_cast<int64_t>(k), sq_distances, indices);
  });
}

}  // namespace datapool
