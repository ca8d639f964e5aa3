#pragma once
// Embedding<T>: the trainable lookup table, PyTorch's nn.Embedding without the autograd tape.

#include <array>        // std::array
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint64_t
#include <istream>      // std::istream
#include <optional>     // std::optional
#include <ostream>      // std::ostream
#include <span>         // std::span
#include <type_traits>  // std::is_same_v
#include <utility>      // std::move

#include <unsupported/Eigen/CXX11/Tensor>  // N-d index batches

#include "emb/detail/check.hpp"
#include "emb/detail/coalesce.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/detail/random.hpp"
#include "emb/detail/table.hpp"
#include "emb/gradient.hpp"
#include "emb/indices.hpp"
#include "emb/mapped_table.hpp"
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
// a tape-free backward that returns the row-sparse gradient for an optimizer. The accessors it
// shares with EmbeddingBag (num_embeddings(), padding_idx(), weight(), view(), frozen(), ...)
// are documented in detail/table.hpp, the core both are built on.
//
// Example:
//   emb::Embedding<float> table(10, 3, {.padding_idx = 0, .seed = 42});
//   emb::Matrix<float> out = table.forward({1, 2, 3, 4});          // (4, 3)
//   emb::Gradient<float> g = table.backward({1, 2, 3, 4}, dloss);  // dloss: (4, 3)
template <class T>
class Embedding : public detail::TableCore<T> {
  static_assert(detail::is_real_v<T>, "emb::Embedding<T>: T must be float or double");
  using Core = detail::TableCore<T>;

 public:
  // A table initialised from N(0, 1) (reproducibly when options.seed is set), with the padding
  // row zeroed. Throws std::invalid_argument for non-positive sizes, max_norm or norm_type, and
  // std::out_of_range for padding_idx outside [-num_embeddings, num_embeddings).
  Embedding(Index num_embeddings, Index embedding_dim, EmbeddingOptions options = {})
      : Core(kind, num_embeddings, embedding_dim,
             checked_options(num_embeddings, embedding_dim, options),
             detail::seed_or_random(options.seed)) {}

  // A table holding a copy of `weight` (converted to T). As PyTorch, the padding row is NOT
  // zeroed, and the table is frozen (backward gives empty gradients) unless freeze is false.
  template <class Derived>
  static Embedding from_pretrained(const Eigen::MatrixBase<Derived>& weight,
                                   EmbeddingOptions options = {}, bool freeze = true) {
    const auto checked = checked_options(weight.rows(), weight.cols(), options);
    return Embedding(checked, detail::copy_table<T>(weight), freeze);
  }

  // The same, taking over `weight` instead of copying it: for large pretrained tables. Its memory
  // stays as it is: load_npy's and load_safetensors' results are on huge pages, as a new table's
  // weight (detail/huge_pages.hpp); a matrix of your own is not, and its lookups may be slower.
  static Embedding from_pretrained(Matrix<T>&& weight, EmbeddingOptions options = {},
                                   bool freeze = true) {
    const auto checked = checked_options(weight.rows(), weight.cols(), options);
    return Embedding(checked, std::move(weight), freeze);
  }

  // A frozen, read-only table that looks up straight from `rows` (a memory-mapped file's pages:
  // see io/npy.hpp, io/safetensors.hpp), copying nothing. weight() and set_frozen(false) throw
  // std::logic_error; view() reads it. Throws std::invalid_argument for max_norm (it would
  // write to the rows), else as the constructor.
  static Embedding from_mapped(MappedTable<T> rows, EmbeddingOptions options = {}) {
    const auto checked = checked_options(rows.rows(), rows.cols(), options);
    return Embedding(checked, std::move(rows));
  }

  // The options in force (padding_idx normalized; the seed is not kept).
  EmbeddingOptions options() const {
    const auto& o = this->table_options();
    return {.padding_idx = o.padding_idx,
            .max_norm = o.max_norm,
            .norm_type = o.norm_type,
            .scale_grad_by_freq = o.scale_grad_by_freq};
  }

  // (N, embedding_dim): row i is row indices[i] of the table, as it is: no renorm, so a const
  // table (a served model, one read by several threads at once) looks up too. Throws
  // std::out_of_range for an index outside [0, num_embeddings).
  Matrix<T> lookup(Indices indices) const {
    Matrix<T> out =
        detail::allocate_table<T>(static_cast<Index>(indices.size()), this->embedding_dim());
    this->gather(lookup_name, indices, out);
    return out;
  }
  // Allocation-free: writes the result into `out`, which must have exactly its shape
  // (std::invalid_argument otherwise).
  void lookup(Indices indices, Eigen::Ref<Matrix<T>> out) const {
    this->gather(lookup_name, indices, out);
  }

  // PyTorch's forward: lookup, but with max_norm the distinct looked-up rows are first renormed
  // in place. Throws std::out_of_range for an index outside [0, num_embeddings), before
  // anything changes.
  Matrix<T> forward(Indices indices) {
    Matrix<T> out =
        detail::allocate_table<T>(static_cast<Index>(indices.size()), this->embedding_dim());
    forward_into(indices, out);
    return out;
  }
  // Allocation-free: writes the (N, embedding_dim) result into `out`, which must have exactly
  // that shape (std::invalid_argument otherwise).
  void forward(Indices indices, Eigen::Ref<Matrix<T>> out) { forward_into(indices, out); }

  // N-d batches: indices of shape S give a tensor of shape (S..., embedding_dim); a 0-d index
  // gives one vector, as torch.nn.functional.embedding.
  template <class I, int R, int Layout>
  Eigen::Tensor<T, R + 1, Eigen::RowMajor> forward(const Eigen::Tensor<I, R, Layout>& indices) {
    static_assert(Layout == Eigen::RowMajor,
                  "emb::Embedding::forward: N-d indices must be an Eigen::Tensor<I, R, "
                  "Eigen::RowMajor> (PyTorch's layout), not column-major");
    std::array<Eigen::Index, std::size_t{R} + 1> dims;
    for (std::size_t r = 0; r < std::size_t{R}; ++r) dims[r] = indices.dimension(r);
    dims[std::size_t{R}] = this->embedding_dim();
    Eigen::Tensor<T, R + 1, Eigen::RowMajor> out(dims);
    Eigen::Map<Matrix<T>> flat(out.data(), indices.size(), this->embedding_dim());
    forward_into(Indices(indices.data(), static_cast<std::size_t>(indices.size())), flat);
    return out;
  }

  // The gradient of the loss with respect to weight(), given the gradient with respect to the
  // forward output: (N, embedding_dim), of the table's element type. Duplicate indices are
  // summed in input order, the padding row gets none, and with scale_grad_by_freq each row is
  // divided by its count in the call. A frozen table returns an empty gradient. Throws
  // std::out_of_range for a bad index and std::invalid_argument for a grad_output of the wrong
  // shape.
  template <class Derived>
  Gradient<T> backward(Indices indices, const Eigen::MatrixBase<Derived>& grad_output) const {
    static_assert(std::is_same_v<typename Derived::Scalar, T>,
                  "emb::Embedding<T>::backward: grad_output must hold T, the table's element "
                  "type (convert it with .template cast<T>())");
    const Eigen::Ref<const Matrix<T>> grad(grad_output.derived());
    const auto n = static_cast<Index>(indices.size());
    if (grad.rows() != n || grad.cols() != this->embedding_dim()) {
      detail::throw_invalid(backward_name, ": grad_output has shape (", grad.rows(), ", ",
                            grad.cols(), ") but (", n, ", ", this->embedding_dim(), ") is needed");
    }
    detail::check_indices(backward_name, indices, this->num_embeddings());
    if (this->frozen()) return this->empty_gradient();
    return indices.visit([&](auto span) {
      return detail::coalesce_groups<T>(
          span.data(), span.size(), this->num_embeddings(), this->embedding_dim(),
          this->table_options(),
          [&](auto& out, Index position, T scale) {
            detail::add_row_to(out.data(), grad.row(position).data(), grad.cols(), scale);
          },
          [&](auto out, const std::int64_t* positions, std::size_t count, std::size_t visible,
              T scale) { detail::sum_rows(out.data(), grad, positions, count, visible, scale); });
    });
  }

  // The N-d form matching the N-d forward: grad_output has shape (S..., embedding_dim).
  template <class I, int R>
  Gradient<T> backward(const Eigen::Tensor<I, R, Eigen::RowMajor>& indices,
                       const Eigen::Tensor<T, R + 1, Eigen::RowMajor>& grad_output) const {
    for (std::size_t r = 0; r < std::size_t{R}; ++r) {
      if (grad_output.dimension(r) != indices.dimension(r)) {
        detail::throw_invalid(backward_name, ": grad_output dimension ", r, " is ",
                              grad_output.dimension(r), " but the indices' is ",
                              indices.dimension(r));
      }
    }
    if (grad_output.dimension(std::size_t{R}) != this->embedding_dim()) {
      detail::throw_invalid(backward_name, ": grad_output's last dimension is ",
                            grad_output.dimension(std::size_t{R}), " but embedding_dim is ",
                            this->embedding_dim());
    }
    Eigen::Map<const Matrix<T>> flat(grad_output.data(), indices.size(), this->embedding_dim());
    return backward(Indices(indices.data(), static_cast<std::size_t>(indices.size())), flat);
  }

  // Writes the table (options, frozen flag, weight) as one checkpoint record: versioned, with
  // the element type, the shape and a checksum (docs/OPTIMIZERS.md). Throws std::runtime_error
  // when the stream fails. emb::save_checkpoint writes several objects to a file safely.
  void save(std::ostream& out) const { this->save_record(out); }

  // Reads what save() wrote. The stream must hold an Embedding of this element type and shape;
  // a truncated, corrupted or mismatched stream throws std::runtime_error and leaves the table
  // unchanged. Optimizers bound to the table stay bound (the weight is replaced in place).
  void load(std::istream& in) { adopt(read_state(in)); }

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::Embedding";
  static constexpr const char* lookup_name = "emb::Embedding::lookup";
  static constexpr const char* forward_name = "emb::Embedding::forward";
  static constexpr const char* backward_name = "emb::Embedding::backward";
  using Loaded = detail::checkpoint::TableRecord<T>;

  Loaded read_state(std::istream& in) const { return this->template read_record<>(in); }
  void adopt(Loaded&& loaded) noexcept { this->adopt_record(loaded); }

  Embedding(const detail::TableOptions& options, Matrix<T>&& weight, bool frozen)
      : Core(kind, options, std::move(weight), frozen) {}
  Embedding(const detail::TableOptions& options, MappedTable<T>&& rows)
      : Core(kind, options, std::move(rows)) {}

  static detail::TableOptions checked_options(Index num, Index dim,
                                              const EmbeddingOptions& options) {
    detail::check_shape(kind, num, dim);
    return detail::make_table_options(kind, num, options.padding_idx, options.max_norm,
                                      options.norm_type, options.scale_grad_by_freq);
  }

  template <class Out>
  void forward_into(const Indices& indices, Out& out) {
    const auto n = static_cast<Index>(indices.size());
    if (out.rows() != n || out.cols() != this->embedding_dim()) {
      detail::throw_invalid(forward_name, ": out has shape (", out.rows(), ", ", out.cols(),
                            ") but (", n, ", ", this->embedding_dim(), ") is needed");
    }
    detail::check_indices(forward_name, indices, this->num_embeddings());
    this->renorm(indices);
    this->gather_checked(indices, out);
  }
};

}  // namespace emb
