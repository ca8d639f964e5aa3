#pragma once
// EmbeddingBag<T>: pooled lookups (sum, mean, max) with optional per-sample weights, PyTorch's
// nn.EmbeddingBag without the autograd tape.

#include <algorithm>         // std::copy, std::fill, std::min
#include <array>             // std::array
#include <cstddef>           // std::size_t
#include <cstdint>           // std::int32_t, std::uint64_t
#include <initializer_list>  // std::initializer_list
#include <istream>           // std::istream
#include <optional>          // std::optional
#include <ostream>           // std::ostream
#include <span>              // std::span
#include <tuple>             // std::get
#include <type_traits>       // std::is_same_v
#include <utility>           // std::move
#include <vector>            // std::vector

#include <unsupported/Eigen/CXX11/Tensor>  // (B, L) index batches

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/memory.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/random.hpp"
#include "emb/detail/table.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb {

// How a bag's rows are pooled into one output row.
enum class BagMode {
  sum,   // the (optionally per-sample weighted) sum
  mean,  // the sum divided by the number of non-padding entries
  max,   // the per-dimension maximum; ties go to the first entry
};

// The mode's PyTorch name: "sum", "mean" or "max".
inline const char* to_string(BagMode mode) {
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

// Aggregate: pass with designated initializers, e.g. {.mode = emb::BagMode::sum}. The field order
// is part of the contract (add new fields at the end).
struct EmbeddingBagOptions {
  BagMode mode = BagMode::mean;
  std::optional<Index> padding_idx{};   // excluded from pooling and from mean's count
  std::optional<double> max_norm{};     // renorm looked-up rows in forward, in place
  double norm_type = 2.0;               // p of the p-norm for max_norm (infinity allowed)
  bool scale_grad_by_freq = false;      // divide each row's gradient by its count in the call
  bool include_last_offset = false;     // offsets has B + 1 entries, the last ending bag B - 1
  std::optional<std::uint64_t> seed{};  // init RNG; unset = nondeterministic
};

// What forward returns: the pooled output and, by value, everything backward needs, so a result
// can be kept for later without a tape.
template <class T>
struct BagResult {
  Matrix<T> output;              // (B, embedding_dim): row b pools bag b
  BagMode mode = BagMode::mean;  // the mode of the table that made it
  std::vector<Index> indices;    // the call's indices, as int64
  std::vector<Index> offsets;    // B + 1 entries: bag b is positions [offsets[b], offsets[b + 1])
  std::vector<T> per_sample_weights;  // one per index, or empty when none were given
  Matrix<Index> argmax;  // max mode: (B, embedding_dim) winning positions, -1 where a bag has no
                         // non-padding entry; (0, 0) in the other modes

  Index num_bags() const { return output.rows(); }
};

// The gradients backward returns.
template <class T>
struct BagGradient {
  Gradient<T> weight;                 // row-sparse gradient of the table (empty when frozen)
  std::vector<T> per_sample_weights;  // one per index when forward had weights, else empty
};

// A (num_embeddings, embedding_dim) table of T (float or double) whose forward pools bags of
// looked-up rows into one row per bag, as PyTorch's nn.EmbeddingBag, and whose tape-free
// backward returns the row-sparse table gradient (and the per-sample weights' gradient).
// Bags come as 1-D indices with offsets, as a (B, L) batch of equal-length bags, or as
// per-bag lengths (FBGEMM's and caffe2's form).
//
// Example:
//   emb::EmbeddingBag<float> bag(1000, 16, {.mode = emb::BagMode::sum, .seed = 1});
//   const std::vector<emb::Index> ids{4, 8, 15, 16, 23, 42}, offsets{0, 2};  // 2 bags
//   const std::vector<float> weights{1, 1, 0.5f, 0.5f, 0.5f, 0.5f};
//   emb::BagResult<float> r = bag.forward(ids, offsets, weights);  // r.output: (2, 16)
//   emb::BagGradient<float> g = bag.backward(r, dloss);            // dloss: (2, 16)
//   // g.weight has rows {4, 8, 15, 16, 23, 42}; g.per_sample_weights has 6 values
template <class T>
class EmbeddingBag {
  static_assert(detail::is_real_v<T>, "emb::EmbeddingBag<T>: T must be float or double");

 public:
  using Scalar = T;

  // A table initialised from N(0, 1) (reproducibly when options.seed is set), with the padding
  // row zeroed. Throws std::invalid_argument for non-positive sizes, max_norm or norm_type, and
  // for scale_grad_by_freq with mode max (PyTorch rejects it too); std::out_of_range for
  // padding_idx outside [-num_embeddings, num_embeddings).
  EmbeddingBag(Index num_embeddings, Index embedding_dim, EmbeddingBagOptions options = {})
      : options_(checked_options(num_embeddings, embedding_dim, options)),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset),
        weight_(detail::allocate_table<T>(num_embeddings, embedding_dim)) {
    detail::fill_normal(weight_.data(), weight_.size(), detail::seed_or_random(options.seed));
    if (options_.padding_idx) weight_.row(*options_.padding_idx).setZero();
  }

  // A table holding a copy of `weight` (converted to T). As PyTorch, the padding row is NOT
  // zeroed, and the table is frozen (backward gives an empty weight gradient) unless freeze is
  // false. Throws as the constructor.
  template <class Derived>
  static EmbeddingBag from_pretrained(const Eigen::MatrixBase<Derived>& weight,
                                      EmbeddingBagOptions options = {}, bool freeze = true) {
    EmbeddingBag table(checked_options(weight.rows(), weight.cols(), options), options,
                       detail::copy_table<T>(weight));
    table.frozen_ = freeze;
    return table;
  }

  Index num_embeddings() const { return weight_.rows(); }
  Index embedding_dim() const { return weight_.cols(); }
  BagMode mode() const { return mode_; }
  std::optional<Index> padding_idx() const { return options_.padding_idx; }
  std::optional<double> max_norm() const { return options_.max_norm; }
  double norm_type() const { return options_.norm_type; }
  bool scale_grad_by_freq() const { return options_.scale_grad_by_freq; }
  bool include_last_offset() const { return include_last_offset_; }

  // (num_embeddings, embedding_dim), row-major: weight().row(i) is the vector of id i.
  Matrix<T>& weight() { return weight_; }
  const Matrix<T>& weight() const { return weight_; }

  // A frozen table still pools (and renorms with max_norm) but backward returns an empty weight
  // gradient, as PyTorch's requires_grad = False; per-sample weights still get theirs.
  bool frozen() const { return frozen_; }
  void set_frozen(bool frozen) { frozen_ = frozen; }

  // Pools bags given as 1-D indices and offsets: bag b holds positions [offsets[b],
  // offsets[b + 1]), the last bag running to the end of indices; with include_last_offset,
  // offsets has one more entry and its last entry ends the last bag (indices after it belong
  // to no bag and are ignored after validation). Output: (B, embedding_dim), where B is
  // offsets.size() (minus one with include_last_offset). Empty and all-padding bags give zero
  // rows. per_sample_weights (mode sum only; empty means none) holds one weight per index,
  // scaling its row.
  // With max_norm, the distinct rows looked up by the bags are first renormed in place.
  // Throws, before anything changes: std::invalid_argument when offsets[0] != 0, when
  // include_last_offset has no offsets, for per_sample_weights in a mode other than sum or of
  // the wrong length; std::out_of_range for an offset that decreases or exceeds indices.size(),
  // and for an index outside [0, num_embeddings).
  BagResult<T> forward(std::span<const Index> indices, std::span<const Index> offsets,
                       std::span<const T> per_sample_weights = {}) {
    return forward_offsets(indices, offsets, per_sample_weights);
  }
  BagResult<T> forward(std::span<const std::int32_t> indices, std::span<const std::int32_t> offsets,
                       std::span<const T> per_sample_weights = {}) {
    return forward_offsets(indices, offsets, per_sample_weights);
  }
  BagResult<T> forward(std::initializer_list<Index> indices, std::initializer_list<Index> offsets) {
    return forward_offsets(std::span<const Index>(indices.begin(), indices.size()),
                           std::span<const Index>(offsets.begin(), offsets.size()), {});
  }

  // Pools a (B, L) batch of equal-length bags: row b of indices is bag b, as PyTorch's 2-D
  // input. per_sample_weights, when given, has the shape of indices. Output: (B,
  // embedding_dim). include_last_offset does not apply. Throws as the offsets form, and
  // std::invalid_argument for per_sample_weights of another shape.
  template <class I>
  BagResult<T> forward(const Eigen::Tensor<I, 2, Eigen::RowMajor>& indices) {
    return forward_batch(indices, nullptr);
  }
  template <class I>
  BagResult<T> forward(const Eigen::Tensor<I, 2, Eigen::RowMajor>& indices,
                       const Eigen::Tensor<T, 2, Eigen::RowMajor>& per_sample_weights) {
    return forward_batch(indices, &per_sample_weights);
  }

  // Pools bags given by their lengths: bag b holds the next lengths[b] indices (FBGEMM's and
  // caffe2's SparseLengths form). The lengths must be non-negative and sum to indices.size().
  // Output: (lengths.size(), embedding_dim). Throws std::invalid_argument for a negative length
  // or a wrong sum, else as the offsets form.
  BagResult<T> forward_with_lengths(std::span<const Index> indices, std::span<const Index> lengths,
                                    std::span<const T> per_sample_weights = {}) {
    return forward_lengths(indices, lengths, per_sample_weights);
  }
  BagResult<T> forward_with_lengths(std::span<const std::int32_t> indices,
                                    std::span<const std::int32_t> lengths,
                                    std::span<const T> per_sample_weights = {}) {
    return forward_lengths(indices, lengths, per_sample_weights);
  }

  // The gradients of the loss given its gradient with respect to result.output: (B,
  // embedding_dim). weight: each entry's row receives its bag's gradient, scaled by its
  // per-sample weight in sum mode and divided by the bag's non-padding count in mean mode; in
  // max mode each element goes to the row that won it. Duplicates are summed in input order,
  // the padding row gets none, and with scale_grad_by_freq each row is divided by its count in
  // the call. per_sample_weights (when forward had them): entry i is the dot product of its
  // bag's gradient row with its weight row (zero for padding and for entries in no bag). The
  // weight rows are read now: change weight() between forward and backward and the
  // per-sample weights' gradient follows the change (PyTorch would refuse). A frozen table
  // returns an empty weight gradient. Throws std::invalid_argument for a grad_output of the
  // wrong shape or a result of another mode or inconsistent shape, std::out_of_range for a
  // result holding indices this table does not have.
  BagGradient<T> backward(const BagResult<T>& result,
                          const Eigen::Ref<const Matrix<T>>& grad_output) const {
    check_result(result, grad_output);
    BagGradient<T> grad;
    if (!result.per_sample_weights.empty()) {
      grad.per_sample_weights = per_sample_weights_gradient(result, grad_output);
    }
    if (frozen_) {
      grad.weight.num_embeddings = num_embeddings();
      grad.weight.values.resize(0, embedding_dim());
    } else {
      grad.weight = weight_gradient(result, grad_output);
    }
    return grad;
  }

  // Writes the table (options, mode, frozen flag, weight) as one checkpoint record, as
  // Embedding::save (docs/OPTIMIZERS.md). Throws std::runtime_error when the stream fails.
  void save(std::ostream& out) const {
    detail::checkpoint::save_table(out, kind, options_, frozen_, weight_, mode_,
                                   include_last_offset_);
  }

  // Reads what save() wrote. The stream must hold an EmbeddingBag of this element type and
  // shape; a truncated, corrupted or mismatched stream throws std::runtime_error and leaves the
  // table unchanged. Optimizers bound to the table stay bound (the weight is replaced in place).
  void load(std::istream& in) { adopt(read_state(in)); }

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::EmbeddingBag";
  using Loaded = detail::checkpoint::TableRecord<T, BagMode, bool>;

  Loaded read_state(std::istream& in) const {
    auto loaded = detail::checkpoint::read_table<T, BagMode, bool>(in, kind, num_embeddings(),
                                                                   embedding_dim());
    const auto mode = std::get<0>(loaded.extra);
    if (mode != BagMode::sum && mode != BagMode::mean && mode != BagMode::max) {
      detail::throw_runtime(kind, "::load: the checkpoint holds an unknown mode ",
                            static_cast<int>(mode));
    }
    if (mode == BagMode::max && loaded.options.scale_grad_by_freq) {  // as the constructor
      detail::throw_runtime(kind,
                            "::load: the checkpoint holds scale_grad_by_freq with mode max, "
                            "which is not supported (as PyTorch)");
    }
    return loaded;
  }
  void adopt(Loaded&& loaded) noexcept {
    options_ = loaded.options;
    frozen_ = loaded.frozen;
    mode_ = std::get<0>(loaded.extra);
    include_last_offset_ = std::get<1>(loaded.extra);
    weight_.swap(loaded.weight);
  }

  static constexpr const char* forward_name = "emb::EmbeddingBag::forward";
  static constexpr const char* backward_name = "emb::EmbeddingBag::backward";

  EmbeddingBag(const detail::TableOptions& checked, const EmbeddingBagOptions& options,
               Matrix<T> weight)
      : options_(checked),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset),
        weight_(std::move(weight)) {}

  static detail::TableOptions checked_options(Index num, Index dim,
                                              const EmbeddingBagOptions& options) {
    detail::check_shape("emb::EmbeddingBag", num, dim);
    if (options.mode == BagMode::max && options.scale_grad_by_freq) {
      detail::throw_invalid(
          "emb::EmbeddingBag: scale_grad_by_freq is not supported with mode max (as PyTorch)");
    }
    return detail::make_table_options("emb::EmbeddingBag", num, options.padding_idx,
                                      options.max_norm, options.norm_type,
                                      options.scale_grad_by_freq);
  }

  template <class I>
  BagResult<T> forward_offsets(std::span<const I> indices, std::span<const I> offsets,
                               std::span<const T> per_sample_weights) {
    const auto n = static_cast<Index>(indices.size());
    if (include_last_offset_ && offsets.empty()) {
      detail::throw_invalid(forward_name,
                            ": include_last_offset needs at least one offset (the end"
                            " of the last bag), got none");
    }
    std::vector<Index> bounds;
    bounds.reserve(offsets.size() + 1);
    for (std::size_t b = 0; b < offsets.size(); ++b) {
      const auto offset = static_cast<Index>(offsets[b]);
      if (b == 0 && offset != 0) {
        detail::throw_invalid(forward_name, ": offsets[0] is ", offset, " but must be 0");
      }
      const Index low = b == 0 ? 0 : bounds.back();
      if (offset < low || offset > n) {
        detail::throw_out_of_range(forward_name, ": offsets[", b, "] is ", offset,
                                   ", out of range [", low, ", ", n,
                                   "]: offsets must be non-decreasing and at most the number of "
                                   "indices");
      }
      bounds.push_back(offset);
    }
    if (bounds.empty()) {
      bounds.push_back(0);  // no bags
    } else if (!include_last_offset_) {
      bounds.push_back(n);  // the last bag runs to the end
    }
    return forward_bags(indices, std::move(bounds), per_sample_weights);
  }

  template <class I>
  BagResult<T> forward_lengths(std::span<const I> indices, std::span<const I> lengths,
                               std::span<const T> per_sample_weights) {
    std::vector<Index> bounds{0};
    bounds.reserve(lengths.size() + 1);
    for (std::size_t b = 0; b < lengths.size(); ++b) {
      const auto length = static_cast<Index>(lengths[b]);
      if (length < 0) {
        detail::throw_invalid("emb::EmbeddingBag::forward_with_lengths: lengths[", b, "] is ",
                              length, " but must be non-negative");
      }
      bounds.push_back(bounds.back() + length);
    }
    if (bounds.back() != static_cast<Index>(indices.size())) {
      detail::throw_invalid("emb::EmbeddingBag::forward_with_lengths: lengths sum to ",
                            bounds.back(), " but there are ", indices.size(), " indices");
    }
    return forward_bags(indices, std::move(bounds), per_sample_weights);
  }

  template <class I>
  BagResult<T> forward_batch(const Eigen::Tensor<I, 2, Eigen::RowMajor>& indices,
                             const Eigen::Tensor<T, 2, Eigen::RowMajor>* per_sample_weights) {
    static_assert(std::is_same_v<I, Index> || std::is_same_v<I, std::int32_t>,
                  "emb::EmbeddingBag::forward: indices must be int64 or int32");
    const Index bags = indices.dimension(0), length = indices.dimension(1);
    std::span<const T> weights;
    if (per_sample_weights) {
      if (per_sample_weights->dimension(0) != bags || per_sample_weights->dimension(1) != length) {
        detail::throw_invalid(forward_name, ": per_sample_weights has shape (",
                              per_sample_weights->dimension(0), ", ",
                              per_sample_weights->dimension(1), ") but indices have (", bags, ", ",
                              length, ")");
      }
      weights = {per_sample_weights->data(), static_cast<std::size_t>(per_sample_weights->size())};
    }
    std::vector<Index> bounds(static_cast<std::size_t>(bags) + 1);
    for (std::size_t b = 0; b < bounds.size(); ++b) bounds[b] = static_cast<Index>(b) * length;
    return forward_bags(
        std::span<const I>(indices.data(), static_cast<std::size_t>(indices.size())),
        std::move(bounds), weights);
  }

  // The common path: `bounds` (B + 1 entries) is validated; the rest is checked here, before
  // max_norm touches the weight.
  template <class I>
  BagResult<T> forward_bags(std::span<const I> indices, std::vector<Index> bounds,
                            std::span<const T> per_sample_weights) {
    if (!per_sample_weights.empty()) {
      if (mode_ != BagMode::sum) {
        detail::throw_invalid(forward_name,
                              ": per_sample_weights is only supported with mode sum (got mode ",
                              to_string(mode_), ")");
      }
      if (per_sample_weights.size() != indices.size()) {
        detail::throw_invalid(forward_name, ": per_sample_weights has ", per_sample_weights.size(),
                              " entries but there are ", indices.size(), " indices");
      }
    }
    detail::check_indices(forward_name, indices.data(), indices.size(), num_embeddings());

    BagResult<T> result;
    result.mode = mode_;
    result.indices.assign(indices.begin(), indices.end());
    result.offsets = std::move(bounds);
    result.per_sample_weights.assign(per_sample_weights.begin(), per_sample_weights.end());
    const auto looked_up = static_cast<std::size_t>(result.offsets.back());
    if (options_.max_norm) {
      detail::renorm_rows(weight_, result.indices.data(), looked_up, *options_.max_norm,
                          options_.norm_type);
    }
    pool(result);
    return result;
  }

  // Bags are independent, so each is pooled by one thread, its entries in input order: the
  // output never depends on the number of threads.
  void pool(BagResult<T>& r) const {
    const auto bags = static_cast<Index>(r.offsets.size()) - 1;
    const Index dim = embedding_dim();
    r.output.resize(bags, dim);
    if (mode_ == BagMode::max) r.argmax.resize(bags, dim);
    const Index per_bag = bags == 0 ? 0 : r.offsets.back() / bags;
    const Index min_bags = std::max<Index>(1, 16384 / std::max<Index>(1, per_bag * dim));
    detail::parallel_for(0, bags, min_bags, [&](Index b) {
      Index c = 0;
      for (; c + block <= dim; c += block) pool_columns<block>(r, b, c, block);
      if (c < dim) pool_columns<0>(r, b, c, dim - c);
    });
  }

  // Columns [c, c + width) of bag b; Width > 0 fixes width at compile time, so the compiler
  // unrolls the loop over a row's columns, which keeps more rows' loads in flight.
  template <Index Width>
  void pool_columns(BagResult<T>& r, Index b, Index c, Index width) const {
    if (mode_ == BagMode::max) {
      max_columns<Width>(r, b, c, width);
    } else {
      sum_columns<Width>(r, b, c, width);
    }
  }

  // Sum and mean: the rows (scaled by their per-sample weights) added in input order, then for
  // mean divided by the non-padding count, as PyTorch's CPU kernel. The running sums stay in a
  // local buffer for the whole bag, so the output row is written once.
  template <Index Width>
  void sum_columns(BagResult<T>& r, Index b, Index c, Index width) const {
    const Index cols = Width > 0 ? Width : width;
    const Index dim = embedding_dim();
    const Index pad = options_.padding_idx.value_or(-1);
    const Index* indices = r.indices.data();
    const T* weights = r.per_sample_weights.empty() ? nullptr : r.per_sample_weights.data();
    const T* table = weight_.data() + c;
    const Index begin = r.offsets[static_cast<std::size_t>(b)];
    const Index end = r.offsets[static_cast<std::size_t>(b) + 1];
    std::array<T, static_cast<std::size_t>(block)> acc{};
    Index count = 0;
    for (Index p = begin; p < end; ++p) {
      prefetch_ahead(r, p, c, cols);
      const Index row = indices[p];
      if (row == pad) continue;
      const T* src = table + row * dim;
      const T w = weights ? weights[p] : T(1);  // 1 * x is exact: one loop for both
      for (Index j = 0; j < cols; ++j) acc[static_cast<std::size_t>(j)] += w * src[j];
      ++count;
    }
    if (mode_ == BagMode::mean && count > 0) {
      for (Index j = 0; j < cols; ++j) acc[static_cast<std::size_t>(j)] /= static_cast<T>(count);
    }
    std::copy(acc.begin(), acc.begin() + cols, r.output.data() + b * dim + c);
  }

  // Max: per dimension, the largest value and the position that first reached it.
  template <Index Width>
  void max_columns(BagResult<T>& r, Index b, Index c, Index width) const {
    const Index cols = Width > 0 ? Width : width;
    const Index dim = embedding_dim();
    const Index pad = options_.padding_idx.value_or(-1);
    const Index* indices = r.indices.data();
    const T* table = weight_.data() + c;
    const Index begin = r.offsets[static_cast<std::size_t>(b)];
    const Index end = r.offsets[static_cast<std::size_t>(b) + 1];
    std::array<T, static_cast<std::size_t>(block)> best{};
    std::array<Index, static_cast<std::size_t>(block)> arg;
    arg.fill(-1);  // no non-padding entry: zeros and -1
    bool found = false;
    for (Index p = begin; p < end; ++p) {
      prefetch_ahead(r, p, c, cols);
      const Index row = indices[p];
      if (row == pad) continue;
      const T* src = table + row * dim;
      for (Index j = 0; j < cols; ++j) {
        const auto k = static_cast<std::size_t>(j);
        const bool wins = !found || src[j] > best[k];  // strict: ties stay with the first
        best[k] = wins ? src[j] : best[k];
        arg[k] = wins ? p : arg[k];
      }
      found = true;
    }
    std::copy(best.begin(), best.begin() + cols, r.output.data() + b * dim + c);
    std::copy(arg.begin(), arg.begin() + cols, r.argmax.data() + b * dim + c);
  }

  // 512 bytes of columns (128 floats, 64 doubles): running sums or maxima that stay in
  // registers and L1. Wider tables go in several passes over the bag.
  static constexpr Index block = 512 / static_cast<Index>(sizeof(T));

  // Rows are gathered from random places in a large table: asking for the columns [c, c +
  // width) of the row a few entries ahead (into the next bags too) keeps many loads in flight
  // and hides most of the memory latency.
  static constexpr Index prefetch_distance = 16;
  void prefetch_ahead(const BagResult<T>& r, Index p, Index c, Index width) const {
    const Index ahead = p + prefetch_distance;
    if (ahead >= r.offsets.back()) return;
    detail::prefetch(
        weight_.data() + r.indices[static_cast<std::size_t>(ahead)] * embedding_dim() + c,
        sizeof(T) * static_cast<std::size_t>(width));
  }

  // A result may be kept, copied or built by hand: check that it is one this table can take.
  void check_result(const BagResult<T>& r, const Eigen::Ref<const Matrix<T>>& grad_output) const {
    if (r.mode != mode_) {
      detail::throw_invalid(backward_name, ": the result was made in mode ", to_string(r.mode),
                            " but this table's mode is ", to_string(mode_));
    }
    const auto n = static_cast<Index>(r.indices.size());
    const Index bags = r.num_bags();
    bool consistent =
        !r.offsets.empty() && static_cast<Index>(r.offsets.size()) == bags + 1 &&
        r.offsets.front() == 0 && r.offsets.back() <= n && r.output.cols() == embedding_dim() &&
        (r.per_sample_weights.empty() || static_cast<Index>(r.per_sample_weights.size()) == n);
    for (std::size_t b = 1; consistent && b < r.offsets.size(); ++b) {
      consistent = r.offsets[b - 1] <= r.offsets[b];
    }
    if (consistent && mode_ == BagMode::max) {
      consistent = r.argmax.rows() == bags && r.argmax.cols() == embedding_dim();
      for (Index b = 0; consistent && b < bags; ++b) {
        const Index begin = r.offsets[static_cast<std::size_t>(b)];
        const Index end = r.offsets[static_cast<std::size_t>(b) + 1];
        for (Index j = 0; consistent && j < embedding_dim(); ++j) {
          const Index p = r.argmax(b, j);
          consistent = p == -1 || (p >= begin && p < end);
        }
      }
    }
    if (!consistent) {
      detail::throw_invalid(backward_name, ": the result is inconsistent (its output, offsets, ",
                            "indices, per_sample_weights and argmax do not fit together)");
    }
    if (grad_output.rows() != bags || grad_output.cols() != embedding_dim()) {
      detail::throw_invalid(backward_name, ": grad_output has shape (", grad_output.rows(), ", ",
                            grad_output.cols(), ") but (", bags, ", ", embedding_dim(),
                            ") is needed");
    }
    detail::check_indices(backward_name, r.indices.data(), r.indices.size(), num_embeddings());
  }

  // bag_of[p] for every position in a bag: the bag holding it.
  static std::vector<Index> bag_of_positions(const BagResult<T>& r) {
    std::vector<Index> bag_of(static_cast<std::size_t>(r.offsets.back()));
    for (std::size_t b = 0; b + 1 < r.offsets.size(); ++b) {
      std::fill(bag_of.begin() + r.offsets[b], bag_of.begin() + r.offsets[b + 1],
                static_cast<Index>(b));
    }
    return bag_of;
  }

  Gradient<T> weight_gradient(const BagResult<T>& r,
                              const Eigen::Ref<const Matrix<T>>& grad_output) const {
    const std::vector<Index> bag_of = bag_of_positions(r);
    if (mode_ == BagMode::max) {
      // Only the positions that won some element receive gradient, element by element.
      std::vector<char> won(bag_of.size(), 0);
      for (Index k = 0; k < r.argmax.size(); ++k) {
        if (r.argmax.data()[k] >= 0) won[static_cast<std::size_t>(r.argmax.data()[k])] = 1;
      }
      std::vector<Index> winners, rows;
      for (std::size_t p = 0; p < won.size(); ++p) {
        if (!won[p]) continue;
        winners.push_back(static_cast<Index>(p));
        rows.push_back(r.indices[p]);
      }
      return detail::coalesce<T>(
          rows.data(), rows.size(), num_embeddings(), embedding_dim(), options_,
          [&](auto& out, Index k, T) {
            const Index p = winners[static_cast<std::size_t>(k)];
            const Index b = bag_of[static_cast<std::size_t>(p)];
            for (Index j = 0; j < embedding_dim(); ++j) {
              if (r.argmax(b, j) == p) out(j) += grad_output(b, j);
            }
          },
          [&](Index k) {
            const Index p = winners[static_cast<std::size_t>(k)];
            const Index b = bag_of[static_cast<std::size_t>(p)];
            detail::prefetch_row(grad_output, b);
          });
    }
    std::vector<Index> count;  // mean's divisor: the non-padding entries of each bag
    if (mode_ == BagMode::mean) {
      const Index pad = options_.padding_idx.value_or(-1);
      count.assign(r.offsets.size() - 1, 0);
      for (std::size_t p = 0; p < bag_of.size(); ++p) {
        if (r.indices[p] != pad) ++count[static_cast<std::size_t>(bag_of[p])];
      }
    }
    const T* weights = r.per_sample_weights.empty() ? nullptr : r.per_sample_weights.data();
    return detail::coalesce<T>(
        r.indices.data(), bag_of.size(), num_embeddings(), embedding_dim(), options_,
        [&](auto& out, Index p, T scale) {
          const auto b = bag_of[static_cast<std::size_t>(p)];
          if (weights) scale *= weights[p];
          if (mode_ == BagMode::mean) {
            scale /= static_cast<T>(count[static_cast<std::size_t>(b)]);
          }
          out += scale * grad_output.row(b);
        },
        [&](Index p) {
          const auto b = bag_of[static_cast<std::size_t>(p)];
          detail::prefetch_row(grad_output, b);
        });
  }

  // d loss / d weight_i = <grad_output row of i's bag, weight row of i>, accumulated in double so
  // the float result is the exactly rounded dot product.
  std::vector<T> per_sample_weights_gradient(const BagResult<T>& r,
                                             const Eigen::Ref<const Matrix<T>>& grad_output) const {
    std::vector<T> grad(r.indices.size(), T(0));
    const Index pad = options_.padding_idx.value_or(-1);
    const auto bags = r.num_bags();
    detail::parallel_for(0, bags, 64, [&](Index b) {
      for (Index p = r.offsets[static_cast<std::size_t>(b)];
           p < r.offsets[static_cast<std::size_t>(b) + 1]; ++p) {
        const Index row = r.indices[static_cast<std::size_t>(p)];
        if (row == pad) continue;
        grad[static_cast<std::size_t>(p)] =
            static_cast<T>(grad_output.row(b).template cast<double>().dot(
                weight_.row(row).template cast<double>()));
      }
    });
    return grad;
  }

  detail::TableOptions options_;
  BagMode mode_ = BagMode::mean;
  bool include_last_offset_ = false;
  Matrix<T> weight_;
  bool frozen_ = false;
};

}  // namespace emb
