#pragma once
// Compressed tables for lookup (serving): float16, bfloat16 and PyTorch's row-wise quantized
// int8/int4/int2 rows, and the lookups over them (QuantizedEmbedding, QuantizedEmbeddingBag), which
// produce float. See docs/QUANTIZED.md.

#include <algorithm>    // std::copy
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint8_t, std::int64_t
#include <istream>      // std::istream
#include <memory>       // std::shared_ptr, std::make_shared
#include <optional>     // std::optional
#include <ostream>      // std::ostream
#include <span>         // std::span
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include "emb/bag_mode.hpp"
#include "emb/detail/bags.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/gather.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/quantize.hpp"
#include "emb/detail/renorm.hpp"
#include "emb/detail/table_options.hpp"
#include "emb/embedding.hpp"
#include "emb/embedding_bag.hpp"
#include "emb/indices.hpp"
#include "emb/types.hpp"

namespace emb {

// The storage's name: "float32", "float16", "bfloat16", "int8", "int4" or "int2".
inline std::string_view to_string(Storage storage) {
  const char* name = detail::storage_name(storage);
  return name ? name : "unknown";
}

// The storage of that name (as to_string writes it); nullopt for another name.
inline std::optional<Storage> parse_storage(std::string_view name) {
  for (Storage s : {Storage::float32, Storage::float16, Storage::bfloat16, Storage::int8,
                    Storage::int4, Storage::int2}) {
    if (name == to_string(s)) return s;
  }
  return std::nullopt;
}

// A read-only (num_embeddings, embedding_dim) table stored as `storage` (emb::Storage, in
// emb/detail/quantize.hpp with the byte layout of every storage). The packed rows are held
// behind a shared owner: a buffer of the table's own, or memory someone else keeps alive (a
// mapped file, see from_bytes). Copies share the rows.
//
// Example:
//   auto q = emb::QuantizedTable::quantize(trained.weight(), emb::Storage::int8);
//   emb::Matrix<float> approx = q.dequantize();   // what PyTorch's unpack returns
class QuantizedTable {
 public:
  // The rows quantize packs between two calls of its `packed` callback.
  static constexpr Index quantize_block_rows = 4096;

  // A (num_embeddings, embedding_dim) table whose every value is 0 (all bytes zero), e.g. to
  // load() a checkpoint into. Throws std::invalid_argument for non-positive sizes and where
  // quantize refuses the storage.
  QuantizedTable(Index num_embeddings, Index embedding_dim, Storage storage) {
    check("emb::QuantizedTable", num_embeddings, embedding_dim, storage);
    auto bytes = owned(num_embeddings, embedding_dim, storage);
    bytes->setZero();
    adopt_owned(std::move(bytes), embedding_dim, storage);
  }

  // Packs `weight` (float or double; doubles are first rounded to float, as tensor.float())
  // exactly as PyTorch 1.13 does: int8/int4/int2 byte for byte as
  // torch.ops.quantized.embedding_bag_{byte,4bit,2bit}_prepack, float16/bfloat16 as
  // tensor.half()/tensor.bfloat16() (nearest even), float32 unchanged.
  // Throws std::invalid_argument for an empty weight, an int4 weight of odd width or an int2
  // weight whose width is not a multiple of 4 (PyTorch refuses both), a non-finite value in an
  // integer storage, or a row whose scale or minimum does not fit the stored type (an int8 range
  // beyond float, an int4/int2 minimum or scale beyond float16's 65504).
  template <class Derived>
  static QuantizedTable quantize(const Eigen::MatrixBase<Derived>& weight, Storage storage) {
    return quantize(weight, storage, [](Index, Index) {});
  }

  // The same, calling packed(first, count) each time rows [first, first + count) are packed
  // (blocks of quantize_block_rows, in order): a source mapped from a file can drop the pages
  // it has given, so that packing a large file never holds its float table.
  template <class Derived, class Packed>
  static QuantizedTable quantize(const Eigen::MatrixBase<Derived>& weight, Storage storage,
                                 Packed&& packed) {
    constexpr const char* where = "emb::QuantizedTable::quantize";
    const Index num = weight.rows(), dim = weight.cols();
    check(where, num, dim, storage);
    auto bytes = owned(num, dim, storage);
    const auto row_bytes = static_cast<std::size_t>(bytes->cols());
    const bool integer = detail::quantized_bits(storage) != 0;
    // One row at a time through a float buffer: no float copy of a large table.
    std::vector<float> buffer(static_cast<std::size_t>(dim));
    Eigen::Map<Eigen::RowVectorXf> row(buffer.data(), dim);
    for (Index r = 0; r < num; ++r) {
      row = weight.row(r).template cast<float>();
      const float* in = buffer.data();
      if (integer) {
        for (Index j = 0; j < dim; ++j) {
          if (!detail::is_finite(in[j])) {
            detail::throw_invalid(where, ": row ", r, " holds ", in[j], " at column ", j, "; ",
                                  detail::storage_name(storage), " needs finite values");
          }
        }
      }
      std::uint8_t* out = bytes->data() + static_cast<std::size_t>(r) * row_bytes;
      if (!pack(storage, in, dim, out)) {
        detail::throw_invalid(where, ": row ", r, "'s range does not fit ",
                              detail::storage_name(storage), "'s ",
                              storage == Storage::int8 ? "float32" : "float16",
                              " scale and bias (its minimum or max - min overflows)");
      }
      if ((r + 1) % quantize_block_rows == 0 || r + 1 == num) {
        const Index first = r / quantize_block_rows * quantize_block_rows;
        packed(first, r + 1 - first);
      }
    }
    QuantizedTable table;
    table.adopt_owned(std::move(bytes), dim, storage);
    return table;
  }

  // A table over packed rows already in memory (`bytes`: num_embeddings rows of the storage's
  // layout, row after row), kept alive by `owner` (the mapping of a file, a buffer, ...): nothing
  // is copied. Throws std::invalid_argument when the sizes, the storage or the byte count do not
  // agree, or when float32 rows are not 4-byte aligned.
  static QuantizedTable from_bytes(std::shared_ptr<const void> owner,
                                   std::span<const std::uint8_t> bytes, Index num_embeddings,
                                   Index embedding_dim, Storage storage) {
    constexpr const char* where = "emb::QuantizedTable::from_bytes";
    check(where, num_embeddings, embedding_dim, storage);
    const std::size_t row_bytes = detail::packed_row_bytes(storage, embedding_dim);
    const auto rows = static_cast<std::size_t>(num_embeddings);
    if (bytes.size() / row_bytes != rows || bytes.size() % row_bytes != 0) {
      detail::throw_invalid(where, ": ", bytes.size(), " bytes do not hold ", num_embeddings,
                            " rows of ", row_bytes, " bytes (", embedding_dim, " ",
                            detail::storage_name(storage), " values)");
    }
    if (storage == Storage::float32 && reinterpret_cast<std::uintptr_t>(bytes.data()) % 4 != 0) {
      detail::throw_invalid(where, ": float32 rows must start at a 4-byte aligned address");
    }
    QuantizedTable table;
    table.owner_ = std::move(owner);
    table.data_ = bytes.data();
    table.num_ = num_embeddings;
    table.dim_ = embedding_dim;
    table.storage_ = storage;
    return table;
  }

  Index num_embeddings() const { return num_; }
  Index embedding_dim() const { return dim_; }
  Storage storage() const { return storage_; }

  // Bytes of one packed row (int8 at embedding_dim 128: 136).
  std::size_t row_bytes() const { return detail::packed_row_bytes(storage_, dim_); }

  // The packed rows: num_embeddings() * row_bytes() bytes, row after row.
  std::span<const std::uint8_t> bytes() const {
    return {data_, static_cast<std::size_t>(num_) * row_bytes()};
  }

  // Whatever keeps bytes() alive.
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // Calls f(rows) with the detail::QuantizedRows<S> of this table's storage: the row source the
  // lookup kernels are instantiated over.
  template <class F>
  decltype(auto) visit_rows(F&& f) const {
    return detail::with_rows(storage_, data_, num_, dim_, std::forward<F>(f));
  }

  // (num_embeddings, embedding_dim) floats, value for value what PyTorch's
  // embedding_bag_{byte,4bit,2bit}_unpack returns (q * scale rounded, then + bias rounded),
  // whatever the compiler's contraction flags.
  Matrix<float> dequantize() const {
    Matrix<float> out = detail::allocate_table<float>(num_, dim_);
    visit_rows([&](const auto& rows) {
      for (Index r = 0; r < num_; ++r) {
        float* row = out.data() + r * dim_;
        const float* got = rows.columns(r, 0, dim_, row);
        if (got != row) std::copy(got, got + dim_, row);
      }
    });
    return out;
  }

  // Writes the table (storage, shape, packed rows) as one checkpoint record: versioned and
  // checksummed (docs/OPTIMIZERS.md). Throws std::runtime_error when the stream fails.
  void save(std::ostream& out) const {
    detail::checkpoint::Writer writer;
    writer.put(static_cast<std::int64_t>(storage_));
    writer.put(static_cast<std::int64_t>(num_));
    writer.put(static_cast<std::int64_t>(dim_));
    Matrix<std::uint8_t> packed =
        Eigen::Map<const Matrix<std::uint8_t>>(data_, num_, static_cast<Index>(row_bytes()));
    writer.put(packed);
    writer.write(out, kind, detail::checkpoint::type_tag<float>);
  }

  // Reads what save() wrote. The record must hold a table of this storage and shape; a truncated,
  // corrupted or mismatched stream throws std::runtime_error and leaves the table unchanged.
  void load(std::istream& in) { adopt(read_state(in)); }

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::QuantizedTable";
  using Bytes = Matrix<std::uint8_t>;

  struct Loaded {
    std::shared_ptr<const Bytes> bytes;
  };

  QuantizedTable() = default;

  static void check(const char* where, Index num, Index dim, Storage storage) {
    detail::check_shape(where, num, dim);
    detail::check_storage(where, storage, dim);
  }

  static std::shared_ptr<Bytes> owned(Index num, Index dim, Storage storage) {
    return std::make_shared<Bytes>(detail::allocate_table<std::uint8_t>(
        num, static_cast<Index>(detail::packed_row_bytes(storage, dim))));
  }

  void adopt_owned(std::shared_ptr<const Bytes> bytes, Index dim, Storage storage) noexcept {
    data_ = bytes->data();
    num_ = bytes->rows();
    dim_ = dim;
    storage_ = storage;
    owner_ = std::move(bytes);
  }

  static bool pack(Storage storage, const float* in, Index dim, std::uint8_t* out) {
    switch (storage) {
      case Storage::float16:
        return detail::pack_row<Storage::float16>(in, dim, out);
      case Storage::bfloat16:
        return detail::pack_row<Storage::bfloat16>(in, dim, out);
      case Storage::int8:
        return detail::pack_row<Storage::int8>(in, dim, out);
      case Storage::int4:
        return detail::pack_row<Storage::int4>(in, dim, out);
      case Storage::int2:
        return detail::pack_row<Storage::int2>(in, dim, out);
      case Storage::float32:
        break;
    }
    return detail::pack_row<Storage::float32>(in, dim, out);
  }

  Loaded read_state(std::istream& in) const {
    const std::string where = std::string(kind) + "::load";
    auto reader =
        detail::checkpoint::Reader::read(in, where, kind, detail::checkpoint::type_tag<float>);
    std::int64_t storage = 0, num = 0, dim = 0;
    reader.get(storage);
    reader.get(num);
    reader.get(dim);
    const char* name = storage >= 0 && storage <= static_cast<std::int64_t>(Storage::int2)
                           ? detail::storage_name(static_cast<Storage>(storage))
                           : nullptr;
    if (name == nullptr) {
      detail::throw_runtime(where, ": corrupted checkpoint (storage ", storage, ")");
    }
    if (static_cast<Storage>(storage) != storage_) {
      detail::throw_runtime(where, ": the checkpoint holds ", name, " rows, not ",
                            detail::storage_name(storage_));
    }
    if (num != num_ || dim != dim_) {
      detail::throw_runtime(where, ": the checkpoint holds a (", num, ", ", dim, ") table where (",
                            num_, ", ", dim_, ") is needed");
    }
    Loaded loaded{std::make_shared<const Bytes>(
        reader.template matrix<std::uint8_t>(num_, static_cast<Index>(row_bytes())))};
    reader.finish();
    return loaded;
  }

  void adopt(Loaded&& loaded) noexcept { adopt_owned(std::move(loaded.bytes), dim_, storage_); }

  std::shared_ptr<const void> owner_;
  const std::uint8_t* data_ = nullptr;
  Index num_ = 0;
  Index dim_ = 0;
  Storage storage_ = Storage::float32;
};

namespace detail {

// The options a compressed table takes from EmbeddingOptions / EmbeddingBagOptions: padding_idx
// (validated and normalized as the float tables do it); max_norm refused, since renorming would
// rewrite rows of a read-only table (quantize() from a trained table applies it first).
inline TableOptions quantized_options(const char* where, const QuantizedTable& table,
                                      std::optional<Index> padding_idx,
                                      std::optional<double> max_norm, double norm_type,
                                      bool scale_grad_by_freq) {
  auto options = make_table_options(where, table.num_embeddings(), padding_idx, max_norm, norm_type,
                                    scale_grad_by_freq);
  if (options.max_norm) {
    throw_invalid(where,
                  ": max_norm renorms rows in place, which a compressed table cannot do "
                  "(quantize() from a trained table applies it to every row first)");
  }
  return options;
}

// `weight` packed as `storage`; with max_norm, every row is first renormed (in a copy, in the
// table's own type) as the table's lookups would renorm it: each row's first lookup scales it to
// the norm, later ones leave it. What a trained table with max_norm returns is what is packed.
template <class Derived>
QuantizedTable quantize_trained(const Eigen::MatrixBase<Derived>& weight,
                                const std::optional<double>& max_norm, double norm_type,
                                Storage storage) {
  if (!max_norm) return QuantizedTable::quantize(weight, storage);
  Matrix<typename Derived::Scalar> rows = weight;
  std::vector<Index> all(static_cast<std::size_t>(rows.rows()));
  for (std::size_t r = 0; r < all.size(); ++r) all[r] = static_cast<Index>(r);
  renorm_rows(rows, all.data(), all.size(), *max_norm, norm_type);
  return QuantizedTable::quantize(rows, storage);
}

}  // namespace detail

// nn.Embedding over a QuantizedTable: each looked-up row is decoded into the float output as it
// is gathered (the float table is never built), so the result is dequantize()'s rows, exactly.
//
// Example:
//   auto served = emb::QuantizedEmbedding::quantize(trained, emb::Storage::int8);
//   emb::Matrix<float> rows = served.forward({3, 1, 4});   // (3, embedding_dim)
class QuantizedEmbedding {
 public:
  // Looks up from `table`. Of the options, padding_idx is kept (and reported; a lookup returns
  // the padding row as stored, as nn.Embedding does); scale_grad_by_freq and seed concern
  // training and are ignored. Throws std::out_of_range for padding_idx outside
  // [-num_embeddings, num_embeddings), std::invalid_argument for max_norm (it would rewrite
  // rows of a read-only table) or a non-positive norm_type.
  explicit QuantizedEmbedding(QuantizedTable table, EmbeddingOptions options = {})
      : options_(detail::quantized_options(kind, table, options.padding_idx, options.max_norm,
                                           options.norm_type, options.scale_grad_by_freq)),
        table_(std::move(table)) {}

  // A trained table, packed as `storage` in one call, with its padding_idx. A table with
  // max_norm is packed as its lookups would return it: every row renormed first.
  // Throws as QuantizedTable::quantize.
  template <class T>
  static QuantizedEmbedding quantize(const Embedding<T>& trained, Storage storage) {
    const auto o = trained.options();
    return QuantizedEmbedding(
        detail::quantize_trained(trained.view(), o.max_norm, o.norm_type, storage),
        {.padding_idx = o.padding_idx});
  }

  Index num_embeddings() const { return table_.num_embeddings(); }
  Index embedding_dim() const { return table_.embedding_dim(); }
  std::optional<Index> padding_idx() const { return options_.padding_idx; }  // normalized
  Storage storage() const { return table_.storage(); }
  const QuantizedTable& table() const { return table_; }

  // (N, embedding_dim): row i is row indices[i] of the table, decoded. Throws std::out_of_range
  // for an index outside [0, num_embeddings).
  Matrix<float> forward(Indices indices) const {
    Matrix<float> out =
        detail::allocate_table<float>(static_cast<Index>(indices.size()), embedding_dim());
    gather(indices, out);
    return out;
  }
  // Allocation-free: writes into `out`, which must be (N, embedding_dim) (std::invalid_argument
  // otherwise).
  void forward(Indices indices, Eigen::Ref<Matrix<float>> out) const { gather(indices, out); }

 private:
  static constexpr const char* kind = "emb::QuantizedEmbedding";
  static constexpr const char* forward_name = "emb::QuantizedEmbedding::forward";

  template <class Out>
  void gather(const Indices& indices, Out& out) const {
    const auto n = static_cast<Index>(indices.size());
    if (out.rows() != n || out.cols() != embedding_dim()) {
      detail::throw_invalid(forward_name, ": out has shape (", out.rows(), ", ", out.cols(),
                            ") but (", n, ", ", embedding_dim(), ") is needed");
    }
    detail::check_indices(forward_name, indices, num_embeddings());
    table_.visit_rows([&](const auto& rows) {
      indices.visit([&](auto span) {
        detail::gather_rows(rows, span.data(), span.size(), out.data(), out.outerStride());
      });
    });
  }

  detail::TableOptions options_;
  QuantizedTable table_;
};

// nn.EmbeddingBag over a QuantizedTable: bags pooled (sum, mean, max) from rows decoded as they
// are read, by the kernels the float EmbeddingBag runs. sum equals PyTorch's fused
// embedding_bag_{byte,4bit,2bit}_rowwise_offsets to float rounding; mean and max equal
// F.embedding_bag over dequantize() (PyTorch 1.13's fused CPU kernels ignore the mode and sum).
//
// Example:
//   auto served = emb::QuantizedEmbeddingBag::quantize(trained_bag, emb::Storage::int4);
//   emb::Matrix<float> pooled = served.forward(ids, offsets);   // (B, embedding_dim)
class QuantizedEmbeddingBag {
 public:
  // Pools from `table`. Of the options, mode, padding_idx and include_last_offset are used;
  // scale_grad_by_freq and seed concern training and are ignored (scale_grad_by_freq with mode
  // max is still refused, as EmbeddingBag does). Throws std::out_of_range for padding_idx
  // outside [-num_embeddings, num_embeddings), std::invalid_argument for max_norm (it would
  // rewrite rows of a read-only table) or a non-positive norm_type.
  explicit QuantizedEmbeddingBag(QuantizedTable table, EmbeddingBagOptions options = {})
      : options_(checked_options(table, options)),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset),
        table_(std::move(table)) {}

  // A trained bag table, packed as `storage` in one call, with its mode, padding_idx and
  // include_last_offset. A table with max_norm is packed as its lookups would see it: every
  // row renormed first. Throws as QuantizedTable::quantize.
  template <class T>
  static QuantizedEmbeddingBag quantize(const EmbeddingBag<T>& trained, Storage storage) {
    const auto o = trained.options();
    return QuantizedEmbeddingBag(
        detail::quantize_trained(trained.view(), o.max_norm, o.norm_type, storage),
        {.mode = o.mode,
         .padding_idx = o.padding_idx,
         .include_last_offset = o.include_last_offset});
  }

  Index num_embeddings() const { return table_.num_embeddings(); }
  Index embedding_dim() const { return table_.embedding_dim(); }
  BagMode mode() const { return mode_; }
  std::optional<Index> padding_idx() const { return options_.padding_idx; }  // normalized
  bool include_last_offset() const { return include_last_offset_; }
  Storage storage() const { return table_.storage(); }
  const QuantizedTable& table() const { return table_; }

  // Pools bags given as 1-D indices and offsets, as EmbeddingBag::forward: bag b holds positions
  // [offsets[b], offsets[b + 1]), the last running to the end of indices (with
  // include_last_offset, offsets' last entry ends it). Empty and all-padding bags give zeros;
  // per_sample_weights (mode sum only; empty means none) scales each index's row. Output: (B,
  // embedding_dim). Throws as EmbeddingBag::forward, before anything is computed:
  // std::invalid_argument when offsets[0] != 0, when include_last_offset has no offsets, for
  // per_sample_weights in a mode other than sum or of the wrong length; std::out_of_range for
  // an offset that decreases or exceeds indices.size() and for an index outside
  // [0, num_embeddings).
  Matrix<float> forward(Indices indices, Indices offsets,
                        std::span<const float> per_sample_weights = {}) const {
    const auto bounds = offset_bounds(indices, offsets);
    return pooled(forward_name, indices, bounds, per_sample_weights);
  }
  // Allocation-free: writes into `out`, which must be (B, embedding_dim)
  // (std::invalid_argument otherwise).
  void forward(Indices indices, Indices offsets, std::span<const float> per_sample_weights,
               Eigen::Ref<Matrix<float>> out) const {
    const auto bounds = offset_bounds(indices, offsets);
    pool(forward_name, indices, bounds, per_sample_weights, out);
  }

  // Pools a (B, L) batch of equal-length bags (row b is bag b), as PyTorch's 2-D input;
  // per_sample_weights, when given, has the shape of indices. Throws as the offsets form.
  template <class I, int Layout>
  Matrix<float> forward(const Eigen::Tensor<I, 2, Layout>& indices) const {
    return forward_batch(indices, nullptr);
  }
  template <class I, int Layout>
  Matrix<float> forward(const Eigen::Tensor<I, 2, Layout>& indices,
                        const Eigen::Tensor<float, 2, Eigen::RowMajor>& per_sample_weights) const {
    return forward_batch(indices, &per_sample_weights);
  }

  // Pools bags given by their lengths (FBGEMM's SparseLengths form), as
  // EmbeddingBag::forward_with_lengths. Throws std::invalid_argument for a negative length or
  // a wrong sum, else as the offsets form.
  Matrix<float> forward_with_lengths(Indices indices, Indices lengths,
                                     std::span<const float> per_sample_weights = {}) const {
    const auto bounds = lengths.visit([&](auto span) {
      return detail::bounds_from_lengths(lengths_name, span, static_cast<Index>(indices.size()));
    });
    return pooled(lengths_name, indices, bounds, per_sample_weights);
  }

 private:
  static constexpr const char* kind = "emb::QuantizedEmbeddingBag";
  static constexpr const char* forward_name = "emb::QuantizedEmbeddingBag::forward";
  static constexpr const char* lengths_name = "emb::QuantizedEmbeddingBag::forward_with_lengths";

  static detail::TableOptions checked_options(const QuantizedTable& table,
                                              const EmbeddingBagOptions& options) {
    if (options.mode == BagMode::max && options.scale_grad_by_freq) {
      detail::throw_invalid(kind,
                            ": scale_grad_by_freq is not supported with mode max (as "
                            "PyTorch)");
    }
    return detail::quantized_options(kind, table, options.padding_idx, options.max_norm,
                                     options.norm_type, options.scale_grad_by_freq);
  }

  std::vector<Index> offset_bounds(const Indices& indices, const Indices& offsets) const {
    return offsets.visit([&](auto span) {
      return detail::bounds_from_offsets(forward_name, span, static_cast<Index>(indices.size()),
                                         include_last_offset_);
    });
  }

  template <class I, int Layout>
  Matrix<float> forward_batch(const Eigen::Tensor<I, 2, Layout>& indices,
                              const Eigen::Tensor<float, 2, Eigen::RowMajor>* weights) const {
    static_assert(Layout == Eigen::RowMajor,
                  "emb::QuantizedEmbeddingBag::forward: a (B, L) batch must be an "
                  "Eigen::Tensor<I, 2, Eigen::RowMajor> (PyTorch's layout), not column-major");
    const Index bags = indices.dimension(0), length = indices.dimension(1);
    std::span<const float> per_sample_weights;
    if (weights) {
      if (weights->dimension(0) != bags || weights->dimension(1) != length) {
        detail::throw_invalid(forward_name, ": per_sample_weights has shape (",
                              weights->dimension(0), ", ", weights->dimension(1),
                              ") but indices have (", bags, ", ", length, ")");
      }
      per_sample_weights = {weights->data(), static_cast<std::size_t>(weights->size())};
    }
    return pooled(forward_name, Indices(indices.data(), static_cast<std::size_t>(indices.size())),
                  detail::bounds_of_batch(bags, length), per_sample_weights);
  }

  Matrix<float> pooled(const char* where, const Indices& indices, const std::vector<Index>& bounds,
                       std::span<const float> per_sample_weights) const {
    Matrix<float> out =
        detail::allocate_table<float>(static_cast<Index>(bounds.size()) - 1, embedding_dim());
    pool(where, indices, bounds, per_sample_weights, out);
    return out;
  }

  // Checks the weights, the ids and `out`, then pools: nothing is written before all is valid.
  template <class Out>
  void pool(const char* where, const Indices& indices, const std::vector<Index>& bounds,
            std::span<const float> per_sample_weights, Out& out) const {
    detail::check_per_sample_weights(where, mode_, per_sample_weights.size(), indices.size());
    detail::check_indices(where, indices, num_embeddings());
    const auto bags = static_cast<Index>(bounds.size()) - 1;
    if (out.rows() != bags || out.cols() != embedding_dim()) {
      detail::throw_invalid(where, ": out has shape (", out.rows(), ", ", out.cols(), ") but (",
                            bags, ", ", embedding_dim(), ") is needed");
    }
    const float* weights = per_sample_weights.empty() ? nullptr : per_sample_weights.data();
    table_.visit_rows([&](const auto& rows) {
      indices.visit([&](auto span) {
        detail::pool_bags(rows, span.data(), bounds, weights, mode_,
                          options_.padding_idx.value_or(-1), out.data(), out.outerStride(),
                          nullptr);
      });
    });
  }

  detail::TableOptions options_;
  BagMode mode_ = BagMode::mean;
  bool include_last_offset_ = false;
  QuantizedTable table_;
};

}  // namespace emb
