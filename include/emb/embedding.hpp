#pragma once
// Embedding<T>: the trainable lookup table, PyTorch's nn.Embedding without the autograd tape.

#include <array>             // std::array
#include <cstddef>           // std::size_t
#include <cstdint>           // std::int32_t, std::uint64_t
#include <initializer_list>  // std::initializer_list
#include <istream>           // std::istream
#include <optional>          // std::optional
#include <ostream>           // std::ostream
#include <span>              // std::span
#include <utility>           // std::move

#include <unsupported/Eigen/CXX11/Tensor>  // N-d index batches

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/memory.hpp"
#include "emb/detail/random.hpp"
#include "emb/detail/table.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb {

// Aggregate: pass with designated initializers, e.g. {.padding_idx = 0, .max_norm = 1.0}.
struct EmbeddingOptions {
  // Every member has a default initializer ({} included), so leaving some out of a designated
  // initializer does not trip -Wmissing-field-initializers in users' builds.
  std::optional<Index> padding_idx{};   // negative counts from the end: normalized to num + idx
  std::optional<double> max_norm{};     // renorm looked-up rows in forward, in place
  double norm_type = 2.0;               // p of the p-norm for max_norm (infinity allowed)
  bool scale_grad_by_freq = false;      // divide each row's gradient by its count in the call
  std::optional<std::uint64_t> seed{};  // init RNG; unset = nondeterministic
};

// A (num_embeddings, embedding_dim) table of T (float or double) with PyTorch's forward and
// a tape-free backward that returns the row-sparse gradient for an optimizer.
//
// Example:
//   emb::Embedding<float> table(10, 3, {.padding_idx = 0, .seed = 42});
//   emb::Matrix<float> out = table.forward({1, 2, 3, 4});          // (4, 3)
//   emb::Gradient<float> g = table.backward({1, 2, 3, 4}, dloss);  // dloss: (4, 3)
template <class T>
class Embedding {
  static_assert(detail::is_real_v<T>, "emb::Embedding<T>: T must be float or double");

 public:
  using Scalar = T;

  // A table initialised from N(0, 1) (reproducibly when options.seed is set), with the padding
  // row zeroed. Throws std::invalid_argument for non-positive sizes, max_norm or norm_type, and
  // std::out_of_range for padding_idx outside [-num_embeddings, num_embeddings).
  Embedding(Index num_embeddings, Index embedding_dim, EmbeddingOptions options = {})
      : options_(checked_options(num_embeddings, embedding_dim, options)),
        weight_(detail::allocate_table<T>(num_embeddings, embedding_dim)) {
    detail::fill_normal(weight_.data(), weight_.size(), detail::seed_or_random(options.seed));
    if (options_.padding_idx) weight_.row(*options_.padding_idx).setZero();
  }

  // A table holding a copy of `weight` (converted to T). As PyTorch, the padding row is NOT
  // zeroed, and the table is frozen (backward gives empty gradients) unless freeze is false.
  template <class Derived>
  static Embedding from_pretrained(const Eigen::MatrixBase<Derived>& weight,
                                   EmbeddingOptions options = {}, bool freeze = true) {
    Embedding table(checked_options(weight.rows(), weight.cols(), options),
                    detail::copy_table<T>(weight));
    table.frozen_ = freeze;
    return table;
  }

  // The same, taking over `weight` instead of copying it: for large pretrained tables.
  static Embedding from_pretrained(Matrix<T>&& weight, EmbeddingOptions options = {},
                                   bool freeze = true) {
    const auto checked = checked_options(weight.rows(), weight.cols(), options);
    Embedding table(checked, std::move(weight));
    table.frozen_ = freeze;
    return table;
  }

  Index num_embeddings() const { return weight_.rows(); }
  Index embedding_dim() const { return weight_.cols(); }
  std::optional<Index> padding_idx() const { return options_.padding_idx; }
  std::optional<double> max_norm() const { return options_.max_norm; }
  double norm_type() const { return options_.norm_type; }
  bool scale_grad_by_freq() const { return options_.scale_grad_by_freq; }

  // (num_embeddings, embedding_dim), row-major: weight().row(i) is the vector of id i.
  Matrix<T>& weight() { return weight_; }
  const Matrix<T>& weight() const { return weight_; }

  // A frozen table still looks up (and renorms with max_norm) but backward returns an empty
  // gradient, as PyTorch's requires_grad = False.
  bool frozen() const { return frozen_; }
  void set_frozen(bool frozen) { frozen_ = frozen; }

  // (N, embedding_dim): row i is weight().row(indices[i]). With max_norm, the distinct
  // looked-up rows are first renormed in place. Throws std::out_of_range for an index outside
  // [0, num_embeddings), before anything changes.
  Matrix<T> forward(std::span<const Index> indices) { return forward_flat(indices); }
  Matrix<T> forward(std::span<const std::int32_t> indices) { return forward_flat(indices); }
  Matrix<T> forward(std::initializer_list<Index> indices) {
    return forward_flat(std::span<const Index>(indices.begin(), indices.size()));
  }

  // Allocation-free: writes the (N, embedding_dim) result into `out`, which must have exactly
  // that shape (std::invalid_argument otherwise).
  void forward(std::span<const Index> indices, Eigen::Ref<Matrix<T>> out) {
    forward_into(indices, out);
  }
  void forward(std::span<const std::int32_t> indices, Eigen::Ref<Matrix<T>> out) {
    forward_into(indices, out);
  }
  void forward(std::initializer_list<Index> indices, Eigen::Ref<Matrix<T>> out) {
    forward_into(std::span<const Index>(indices.begin(), indices.size()), out);
  }

  // N-d batches: indices of shape S give a tensor of shape (S..., embedding_dim); a 0-d index
  // gives one vector, as torch.nn.functional.embedding.
  template <class I, int R>
  Eigen::Tensor<T, R + 1, Eigen::RowMajor> forward(
      const Eigen::Tensor<I, R, Eigen::RowMajor>& indices) {
    static_assert(std::is_same_v<I, Index> || std::is_same_v<I, std::int32_t>,
                  "emb::Embedding::forward: indices must be int64 or int32");
    std::array<Eigen::Index, std::size_t{R} + 1> dims;
    for (std::size_t r = 0; r < std::size_t{R}; ++r) dims[r] = indices.dimension(r);
    dims[std::size_t{R}] = embedding_dim();
    Eigen::Tensor<T, R + 1, Eigen::RowMajor> out(dims);
    Eigen::Map<Matrix<T>> flat(out.data(), indices.size(), embedding_dim());
    forward_into(std::span<const I>(indices.data(), static_cast<std::size_t>(indices.size())),
                 flat);
    return out;
  }

  // The gradient of the loss with respect to weight(), given the gradient with respect to the
  // forward output: (N, embedding_dim). Duplicate indices are summed in input order, the padding
  // row gets none, and with scale_grad_by_freq each row is divided by its count in the call.
  // A frozen table returns an empty gradient. Throws std::out_of_range for a bad index and
  // std::invalid_argument for a grad_output of the wrong shape.
  Gradient<T> backward(std::span<const Index> indices,
                       const Eigen::Ref<const Matrix<T>>& grad_output) const {
    return backward_flat(indices, grad_output);
  }
  Gradient<T> backward(std::span<const std::int32_t> indices,
                       const Eigen::Ref<const Matrix<T>>& grad_output) const {
    return backward_flat(indices, grad_output);
  }
  Gradient<T> backward(std::initializer_list<Index> indices,
                       const Eigen::Ref<const Matrix<T>>& grad_output) const {
    return backward_flat(std::span<const Index>(indices.begin(), indices.size()), grad_output);
  }

  // Writes the table (options, frozen flag, weight) as one checkpoint record: versioned, with
  // the element type, the shape and a checksum (docs/OPTIMIZERS.md). Throws std::runtime_error
  // when the stream fails. emb::save_checkpoint writes several objects to a file safely.
  void save(std::ostream& out) const {
    detail::checkpoint::save_table(out, kind, options_, frozen_, weight_);
  }

  // Reads what save() wrote. The stream must hold an Embedding of this element type and shape;
  // a truncated, corrupted or mismatched stream throws std::runtime_error and leaves the table
  // unchanged. Optimizers bound to the table stay bound (the weight is replaced in place).
  void load(std::istream& in) { adopt(read_state(in)); }

  // The N-d form matching the N-d forward: grad_output has shape (S..., embedding_dim).
  template <class I, int R>
  Gradient<T> backward(const Eigen::Tensor<I, R, Eigen::RowMajor>& indices,
                       const Eigen::Tensor<T, R + 1, Eigen::RowMajor>& grad_output) const {
    for (std::size_t r = 0; r < std::size_t{R}; ++r) {
      if (grad_output.dimension(r) != indices.dimension(r)) {
        detail::throw_invalid("emb::Embedding::backward: grad_output dimension ", r, " is ",
                              grad_output.dimension(r), " but the indices' is ",
                              indices.dimension(r));
      }
    }
    if (grad_output.dimension(std::size_t{R}) != embedding_dim()) {
      detail::throw_invalid("emb::Embedding::backward: grad_output's last dimension is ",
                            grad_output.dimension(std::size_t{R}), " but embedding_dim is ",
                            embedding_dim());
    }
    Eigen::Map<const Matrix<T>> flat(grad_output.data(), indices.size(), embedding_dim());
    return backward_flat(
        std::span<const I>(indices.data(), static_cast<std::size_t>(indices.size())), flat);
  }

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::Embedding";
  using Loaded = detail::checkpoint::TableRecord<T>;

  Loaded read_state(std::istream& in) const {
    return detail::checkpoint::read_table<T>(in, kind, num_embeddings(), embedding_dim());
  }
  void adopt(Loaded&& loaded) noexcept {
    options_ = loaded.options;
    frozen_ = loaded.frozen;
    weight_.swap(loaded.weight);
  }

  Embedding(const detail::TableOptions& options, Matrix<T> weight)
      : options_(options), weight_(std::move(weight)) {}

  static detail::TableOptions checked_options(Index num, Index dim,
                                              const EmbeddingOptions& options) {
    detail::check_shape("emb::Embedding", num, dim);
    return detail::make_table_options("emb::Embedding", num, options.padding_idx, options.max_norm,
                                      options.norm_type, options.scale_grad_by_freq);
  }

  template <class I>
  Matrix<T> forward_flat(std::span<const I> indices) {
    Matrix<T> out(static_cast<Index>(indices.size()), embedding_dim());
    forward_into(indices, out);
    return out;
  }

  template <class I, class Out>
  void forward_into(std::span<const I> indices, Out& out) {
    const auto n = static_cast<Index>(indices.size());
    if (out.rows() != n || out.cols() != embedding_dim()) {
      detail::throw_invalid("emb::Embedding::forward: out has shape (", out.rows(), ", ",
                            out.cols(), ") but (", n, ", ", embedding_dim(), ") is needed");
    }
    detail::check_indices("emb::Embedding::forward", indices.data(), indices.size(),
                          num_embeddings());
    if (options_.max_norm) {
      detail::renorm_rows(weight_, indices.data(), indices.size(), *options_.max_norm,
                          options_.norm_type);
    }
    detail::gather_rows(weight_, indices.data(), indices.size(), out.data(), out.outerStride());
  }

  template <class I>
  Gradient<T> backward_flat(std::span<const I> indices,
                            const Eigen::Ref<const Matrix<T>>& grad_output) const {
    const auto n = static_cast<Index>(indices.size());
    if (grad_output.rows() != n || grad_output.cols() != embedding_dim()) {
      detail::throw_invalid("emb::Embedding::backward: grad_output has shape (", grad_output.rows(),
                            ", ", grad_output.cols(), ") but (", n, ", ", embedding_dim(),
                            ") is needed");
    }
    detail::check_indices("emb::Embedding::backward", indices.data(), indices.size(),
                          num_embeddings());
    if (frozen_) {
      Gradient<T> empty;
      empty.num_embeddings = num_embeddings();
      empty.values.resize(0, embedding_dim());
      return empty;
    }
    return detail::coalesce<T>(
        indices.data(), indices.size(), num_embeddings(), embedding_dim(), options_,
        [&](auto& out, Index position, T scale) {
          out += scale * grad_output.row(position);  // exact for 1
        },
        [&](Index position) { detail::prefetch_row(grad_output, position); });
  }

  detail::TableOptions options_;
  Matrix<T> weight_;
  bool frozen_ = false;
};

}  // namespace emb
