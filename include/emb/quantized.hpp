#pragma once
// Compressed tables for lookup (serving): float16, bfloat16 and PyTorch's row-wise quantized
// int8/int4/int2 rows. Lookups produce float. See docs/QUANTIZED.md.

#include <algorithm>  // std::copy
#include <cstddef>    // std::size_t
#include <cstdint>    // std::uint8_t, std::int64_t
#include <istream>    // std::istream
#include <memory>     // std::shared_ptr, std::make_shared
#include <ostream>    // std::ostream
#include <span>       // std::span
#include <string>     // std::string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/memory.hpp"
#include "emb/detail/quantize.hpp"
#include "emb/detail/table.hpp"
#include "emb/types.hpp"

namespace emb {

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
      const bool packed = pack(storage, in, dim, out);
      if (!packed) {
        detail::throw_invalid(where, ": row ", r, "'s range does not fit ",
                              detail::storage_name(storage), "'s ",
                              storage == Storage::int8 ? "float32" : "float16",
                              " scale and bias (its minimum or max - min overflows)");
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
    Matrix<float> out(num_, dim_);
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
    const char* name = detail::storage_name(static_cast<Storage>(storage));
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

}  // namespace emb
