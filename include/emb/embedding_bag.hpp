#pragma once
// EmbeddingBag<T>: pooled lookups (sum, mean, max) with optional per-sample weights, PyTorch's
// nn.EmbeddingBag without the autograd tape.

#include <algorithm>    // std::fill
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint64_t
#include <istream>      // std::istream
#include <optional>     // std::optional
#include <ostream>      // std::ostream
#include <span>         // std::span
#include <tuple>        // std::get
#include <type_traits>  // std::is_same_v
#include <utility>      // std::move
#include <vector>       // std::vector

#include <unsupported/Eigen/CXX11/Tensor>  // (B, L) index batches

#include "emb/bag_mode.hpp"
#include "emb/detail/bags.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/coalesce.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/detail/random.hpp"
#include "emb/detail/table.hpp"
#include "emb/gradient.hpp"
#include "emb/indices.hpp"
#include "emb/mapped_table.hpp"
#include "emb/types.hpp"

namespace emb {

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
// per-bag lengths (FBGEMM's and caffe2's form). The accessors it shares with Embedding
// (num_embeddings(), padding_idx(), weight(), view(), frozen(), ...) are documented in
// detail/table.hpp, the core both are built on.
//
// Example:
//   emb::EmbeddingBag<float> bag(1000, 16, {.mode = emb::BagMode::sum, .seed = 1});
//   const std::vector<emb::Index> ids{4, 8, 15, 16, 23, 42}, offsets{0, 2};  // 2 bags
//   const std::vector<float> weights{1, 1, 0.5f, 0.5f, 0.5f, 0.5f};
//   emb::BagResult<float> r = bag.forward(ids, offsets, weights);  // r.output: (2, 16)
//   emb::BagGradient<float> g = bag.backward(r, dloss);            // dloss: (2, 16)
//   // g.weight has rows {4, 8, 15, 16, 23, 42}; g.per_sample_weights has 6 values
template <class T>
class EmbeddingBag : public detail::TableCore<T> {
  static_assert(detail::is_real_v<T>, "emb::EmbeddingBag<T>: T must be float or double");
  using Core = detail::TableCore<T>;

 public:
  // A table initialised from N(0, 1) (reproducibly when options.seed is set), with the padding
  // row zeroed. Throws std::invalid_argument for non-positive sizes, max_norm or norm_type, and
  // for scale_grad_by_freq with mode max (PyTorch rejects it too); std::out_of_range for
  // padding_idx outside [-num_embeddings, num_embeddings).
  EmbeddingBag(Index num_embeddings, Index embedding_dim, EmbeddingBagOptions options = {})
      : Core(kind, num_embeddings, embedding_dim,
             checked_options(num_embeddings, embedding_dim, options),
             detail::seed_or_random(options.seed)),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset) {}

  // A table holding a copy of `weight` (converted to T). As PyTorch, the padding row is NOT
  // zeroed, and the table is frozen (backward gives an empty weight gradient) unless freeze is
  // false. Throws as the constructor.
  template <class Derived>
  static EmbeddingBag from_pretrained(const Eigen::MatrixBase<Derived>& weight,
                                      EmbeddingBagOptions options = {}, bool freeze = true) {
    const auto checked = checked_options(weight.rows(), weight.cols(), options);
    return EmbeddingBag(checked, options, detail::copy_table<T>(weight), freeze);
  }

  // The same, taking over `weight` instead of copying it: for large pretrained tables. Its memory
  // stays as it is: load_npy's and load_safetensors' results are on huge pages, as a new table's
  // weight (detail/huge_pages.hpp); a matrix of your own is not, and its lookups may be slower.
  static EmbeddingBag from_pretrained(Matrix<T>&& weight, EmbeddingBagOptions options = {},
                                      bool freeze = true) {
    const auto checked = checked_options(weight.rows(), weight.cols(), options);
    return EmbeddingBag(checked, options, std::move(weight), freeze);
  }

  // A frozen, read-only table that pools straight from `rows` (a memory-mapped file's pages:
  // see io/npy.hpp, io/safetensors.hpp), copying nothing. weight() and set_frozen(false) throw
  // std::logic_error; view() reads it. Throws std::invalid_argument for max_norm (it would
  // write to the rows), else as the constructor.
  static EmbeddingBag from_mapped(MappedTable<T> rows, EmbeddingBagOptions options = {}) {
    const auto checked = checked_options(rows.rows(), rows.cols(), options);
    return EmbeddingBag(checked, options, std::move(rows));
  }

  BagMode mode() const { return mode_; }
  bool include_last_offset() const { return include_last_offset_; }

  // The options in force (padding_idx normalized; the seed is not kept).
  EmbeddingBagOptions options() const {
    const auto& o = this->table_options();
    return {.mode = mode_,
            .padding_idx = o.padding_idx,
            .max_norm = o.max_norm,
            .norm_type = o.norm_type,
            .scale_grad_by_freq = o.scale_grad_by_freq,
            .include_last_offset = include_last_offset_};
  }

  // The pooled rows of each bag as the table is: no renorm and nothing kept for backward, so a
  // const table (a served model, one read by several threads at once) pools too. Bags and
  // per_sample_weights as in forward; (B, embedding_dim). Throws as forward.
  Matrix<T> lookup(Indices indices, Indices offsets,
                   std::span<const T> per_sample_weights = {}) const {
    const auto bounds = checked_bounds(lookup_name, indices, offsets, per_sample_weights);
    Matrix<T> out =
        detail::allocate_table<T>(static_cast<Index>(bounds.size()) - 1, this->embedding_dim());
    pool(indices, bounds, per_sample_weights, out.data(), out.outerStride(), nullptr);
    return out;
  }
  // Allocation-free: writes the result into `out`, which must have exactly its shape
  // (std::invalid_argument otherwise).
  void lookup(Indices indices, Indices offsets, std::span<const T> per_sample_weights,
              Eigen::Ref<Matrix<T>> out) const {
    const auto bounds = checked_bounds(lookup_name, indices, offsets, per_sample_weights);
    const auto bags = static_cast<Index>(bounds.size()) - 1;
    if (out.rows() != bags || out.cols() != this->embedding_dim()) {
      detail::throw_invalid(lookup_name, ": out has shape (", out.rows(), ", ", out.cols(),
                            ") but (", bags, ", ", this->embedding_dim(), ") is needed");
    }
    pool(indices, bounds, per_sample_weights, out.data(), out.outerStride(), nullptr);
  }

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
  BagResult<T> forward(Indices indices, Indices offsets,
                       std::span<const T> per_sample_weights = {}) {
    auto bounds = offsets.visit([&](auto span) {
      return detail::bounds_from_offsets(forward_name, span, static_cast<Index>(indices.size()),
                                         include_last_offset_);
    });
    return forward_bags(indices, std::move(bounds), per_sample_weights);
  }

  // Pools a (B, L) batch of equal-length bags: row b of indices is bag b, as PyTorch's 2-D
  // input. per_sample_weights, when given, has the shape of indices. Output: (B,
  // embedding_dim). include_last_offset does not apply. Throws as the offsets form, and
  // std::invalid_argument for per_sample_weights of another shape.
  template <class I, int Layout>
  BagResult<T> forward(const Eigen::Tensor<I, 2, Layout>& indices) {
    return forward_batch(indices, nullptr);
  }
  template <class I, int Layout>
  BagResult<T> forward(const Eigen::Tensor<I, 2, Layout>& indices,
                       const Eigen::Tensor<T, 2, Eigen::RowMajor>& per_sample_weights) {
    return forward_batch(indices, &per_sample_weights);
  }

  // Pools bags given by their lengths: bag b holds the next lengths[b] indices (FBGEMM's and
  // caffe2's SparseLengths form). The lengths must be non-negative and sum to indices.size().
  // Output: (lengths.size(), embedding_dim). Throws std::invalid_argument for a negative length
  // or a wrong sum, else as the offsets form.
  BagResult<T> forward_with_lengths(Indices indices, Indices lengths,
                                    std::span<const T> per_sample_weights = {}) {
    auto bounds = lengths.visit([&](auto span) {
      return detail::bounds_from_lengths(lengths_name, span, static_cast<Index>(indices.size()));
    });
    return forward_bags(indices, std::move(bounds), per_sample_weights);
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
  template <class Derived>
  BagGradient<T> backward(const BagResult<T>& result,
                          const Eigen::MatrixBase<Derived>& grad_output) const {
    static_assert(std::is_same_v<typename Derived::Scalar, T>,
                  "emb::EmbeddingBag<T>::backward: grad_output must hold T, the table's element "
                  "type (convert it with .template cast<T>())");
    const Eigen::Ref<const Matrix<T>> grad(grad_output.derived());
    check_result(result, grad);
    BagGradient<T> out;
    if (!result.per_sample_weights.empty()) {
      out.per_sample_weights = per_sample_weights_gradient(result, grad);
    }
    out.weight = this->frozen() ? this->empty_gradient() : weight_gradient(result, grad);
    return out;
  }

  // Writes the table (options, mode, frozen flag, weight) as one checkpoint record, as
  // Embedding::save (docs/OPTIMIZERS.md). Throws std::runtime_error when the stream fails.
  void save(std::ostream& out) const { this->save_record(out, mode_, include_last_offset_); }

  // Reads what save() wrote. The stream must hold an EmbeddingBag of this element type and
  // shape; a truncated, corrupted or mismatched stream throws std::runtime_error and leaves the
  // table unchanged. Optimizers bound to the table stay bound (the weight is replaced in place).
  void load(std::istream& in) { adopt(read_state(in)); }

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::EmbeddingBag";
  static constexpr const char* lookup_name = "emb::EmbeddingBag::lookup";
  static constexpr const char* forward_name = "emb::EmbeddingBag::forward";
  static constexpr const char* lengths_name = "emb::EmbeddingBag::forward_with_lengths";
  static constexpr const char* backward_name = "emb::EmbeddingBag::backward";
  using Loaded = detail::checkpoint::TableRecord<T, BagMode, bool>;

  Loaded read_state(std::istream& in) const {
    auto loaded = this->template read_record<BagMode, bool>(in);
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
    mode_ = std::get<0>(loaded.extra);
    include_last_offset_ = std::get<1>(loaded.extra);
    this->adopt_record(loaded);
  }

  EmbeddingBag(const detail::TableOptions& checked, const EmbeddingBagOptions& options,
               Matrix<T>&& weight, bool frozen)
      : Core(kind, checked, std::move(weight), frozen),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset) {}
  EmbeddingBag(const detail::TableOptions& checked, const EmbeddingBagOptions& options,
               MappedTable<T>&& rows)
      : Core(kind, checked, std::move(rows)),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset) {}

  static detail::TableOptions checked_options(Index num, Index dim,
                                              const EmbeddingBagOptions& options) {
    detail::check_shape(kind, num, dim);
    if (options.mode == BagMode::max && options.scale_grad_by_freq) {
      detail::throw_invalid(
          "emb::EmbeddingBag: scale_grad_by_freq is not supported with mode max (as PyTorch)");
    }
    return detail::make_table_options(kind, num, options.padding_idx, options.max_norm,
                                      options.norm_type, options.scale_grad_by_freq);
  }

  // Bounds of the offsets form, with every id and per_sample_weights checked.
  std::vector<Index> checked_bounds(const char* where, const Indices& indices,
                                    const Indices& offsets,
                                    std::span<const T> per_sample_weights) const {
    auto bounds = offsets.visit([&](auto span) {
      return detail::bounds_from_offsets(where, span, static_cast<Index>(indices.size()),
                                         include_last_offset_);
    });
    detail::check_per_sample_weights(where, mode_, per_sample_weights.size(), indices.size());
    detail::check_indices(where, indices, this->num_embeddings());
    return bounds;
  }

  void pool(const Indices& indices, std::span<const Index> bounds,
            std::span<const T> per_sample_weights, T* out, Index out_stride, Index* argmax) const {
    indices.visit([&](auto span) {
      detail::pool_bags(this->rows(), span.data(), bounds,
                        per_sample_weights.empty() ? nullptr : per_sample_weights.data(), mode_,
                        this->padding_idx().value_or(-1), out, out_stride, argmax);
    });
  }

  template <class I, int Layout>
  BagResult<T> forward_batch(const Eigen::Tensor<I, 2, Layout>& indices,
                             const Eigen::Tensor<T, 2, Eigen::RowMajor>* per_sample_weights) {
    static_assert(Layout == Eigen::RowMajor,
                  "emb::EmbeddingBag::forward: a (B, L) batch must be an Eigen::Tensor<I, 2, "
                  "Eigen::RowMajor> (PyTorch's layout), not column-major");
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
    return forward_bags(Indices(indices.data(), static_cast<std::size_t>(indices.size())),
                        detail::bounds_of_batch(bags, length), weights);
  }

  // The common path: `bounds` (B + 1 entries) is validated; the rest is checked here, before
  // max_norm touches the weight.
  BagResult<T> forward_bags(const Indices& indices, std::vector<Index> bounds,
                            std::span<const T> per_sample_weights) {
    detail::check_per_sample_weights(forward_name, mode_, per_sample_weights.size(),
                                     indices.size());
    detail::check_indices(forward_name, indices, this->num_embeddings());

    BagResult<T> result;
    result.mode = mode_;
    indices.visit([&](auto span) { result.indices.assign(span.begin(), span.end()); });
    result.offsets = std::move(bounds);
    result.per_sample_weights.assign(per_sample_weights.begin(), per_sample_weights.end());
    this->renorm(result.indices.data(), static_cast<std::size_t>(result.offsets.back()));
    const auto bags = static_cast<Index>(result.offsets.size()) - 1;
    result.output = detail::allocate_table<T>(bags, this->embedding_dim());
    if (mode_ == BagMode::max) result.argmax.resize(bags, this->embedding_dim());
    pool(Indices(result.indices), result.offsets, result.per_sample_weights, result.output.data(),
         result.output.outerStride(), mode_ == BagMode::max ? result.argmax.data() : nullptr);
    return result;
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
        r.offsets.front() == 0 && r.offsets.back() <= n &&
        r.output.cols() == this->embedding_dim() &&
        (r.per_sample_weights.empty() || static_cast<Index>(r.per_sample_weights.size()) == n);
    for (std::size_t b = 1; consistent && b < r.offsets.size(); ++b) {
      consistent = r.offsets[b - 1] <= r.offsets[b];
    }
    if (consistent && mode_ == BagMode::max) {
      consistent = r.argmax.rows() == bags && r.argmax.cols() == this->embedding_dim();
      for (Index b = 0; consistent && b < bags; ++b) {
        const Index begin = r.offsets[static_cast<std::size_t>(b)];
        const Index end = r.offsets[static_cast<std::size_t>(b) + 1];
        for (Index j = 0; consistent && j < this->embedding_dim(); ++j) {
          const Index p = r.argmax(b, j);
          consistent = p == -1 || (p >= begin && p < end);
        }
      }
    }
    if (!consistent) {
      detail::throw_invalid(backward_name, ": the result is inconsistent (its output, offsets, ",
                            "indices, per_sample_weights and argmax do not fit together)");
    }
    if (grad_output.rows() != bags || grad_output.cols() != this->embedding_dim()) {
      detail::throw_invalid(backward_name, ": grad_output has shape (", grad_output.rows(), ", ",
                            grad_output.cols(), ") but (", bags, ", ", this->embedding_dim(),
                            ") is needed");
    }
    detail::check_indices(backward_name, Indices(r.indices), this->num_embeddings());
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
          rows.data(), rows.size(), this->num_embeddings(), this->embedding_dim(),
          this->table_options(),
          [&](auto& out, Index k, T) {
            const Index p = winners[static_cast<std::size_t>(k)];
            const Index b = bag_of[static_cast<std::size_t>(p)];
            for (Index j = 0; j < this->embedding_dim(); ++j) {
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
      const Index pad = this->padding_idx().value_or(-1);
      count.assign(r.offsets.size() - 1, 0);
      for (std::size_t p = 0; p < bag_of.size(); ++p) {
        if (r.indices[p] != pad) ++count[static_cast<std::size_t>(bag_of[p])];
      }
    }
    const T* weights = r.per_sample_weights.empty() ? nullptr : r.per_sample_weights.data();
    return detail::coalesce<T>(
        r.indices.data(), bag_of.size(), this->num_embeddings(), this->embedding_dim(),
        this->table_options(),
        [&](auto& out, Index p, T scale) {
          const auto b = bag_of[static_cast<std::size_t>(p)];
          if (weights) scale *= weights[p];
          if (mode_ == BagMode::mean) {
            scale /= static_cast<T>(count[static_cast<std::size_t>(b)]);
          }
          detail::add_row_to(out.data(), grad_output.row(b).data(), grad_output.cols(), scale);
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
    const Index pad = this->padding_idx().value_or(-1);
    const auto bags = r.num_bags();
    detail::parallel_for(0, bags, 64, [&](Index b) {
      for (Index p = r.offsets[static_cast<std::size_t>(b)];
           p < r.offsets[static_cast<std::size_t>(b) + 1]; ++p) {
        const Index row = r.indices[static_cast<std::size_t>(p)];
        if (row == pad) continue;
        grad[static_cast<std::size_t>(p)] =
            static_cast<T>(grad_output.row(b).template cast<double>().dot(
                this->view().row(row).template cast<double>()));
      }
    });
    return grad;
  }

  BagMode mode_ = BagMode::mean;
  bool include_last_offset_ = false;
};

}  // namespace emb
