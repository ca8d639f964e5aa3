#pragma once
// BagMode: how EmbeddingBag (and its compressed and sharded forms) pool a bag's rows.

#include <string_view>  // std::string_view

namespace emb {

// How a bag's rows are pooled into one output row.
enum class BagMode {
  sum,   // the (optionally per-sample weighted) sum
  mean,  // the sum divided by the number of non-padding entries
  max,   // the per-dimension maximum; ties go to the first entry
};

// The mode's PyTorch name: "sum", "mean" or "max".
inline std::string_view to_string(BagMode mode) {
  switch (mode) {
    case BagMode::sum:
      return "sum";
    case BagMode::mean:
      return "mean";
    case BagMode::max:
      return "max";
  }
  return "unknown";
}

}  // namespace emb
