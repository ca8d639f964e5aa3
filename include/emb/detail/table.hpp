#pragma once
// The table core: what every table kind (Embedding, EmbeddingBag) is made of. One weight, owned
// or mapped from a file (MappedTable), its validated options and frozen flag, the accessors, the
// validated lookup and renorm, the empty gradient of a frozen table and the checkpoint record
// (table_record.hpp).
// The kernels it runs live beside it, named after the data path: gather.hpp (ids -> rows),
// renorm.hpp (max_norm), bags.hpp (pooling), sort.hpp + coalesce.hpp (rows -> gradient).

#include <optional>     // std::optional
#include <stdexcept>    // std::logic_error
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move

#include "emb/detail/check.hpp"
#include "emb/detail/gather.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/random.hpp"
#include "emb/detail/renorm.hpp"
#include "emb/detail/rows.hpp"
#include "emb/detail/table_options.hpp"
#include "emb/detail/table_record.hpp"
#include "emb/gradient.hpp"
#include "emb/indices.hpp"
#include "emb/mapped_table.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Renorms the distinct rows among the first n of `ids` when the options have a max_norm. GCC 12
// (-O3 -march=native) warns, once this is inlined into some gathers, that the value of an empty
// max_norm "may be used uninitialized": it is only read when there is one.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <class Weight, class I>
void renorm_if_max_norm(Weight& weight, const I* ids, std::size_t n, const TableOptions& options) {
  if (options.max_norm) renorm_rows(weight, ids, n, *options.max_norm, options.norm_type);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// The shared part of Embedding<T> and EmbeddingBag<T>: their common accessors are public here,
// the steps both run are protected helpers. `kind` ("emb::Embedding") starts every message.
template <class T>
class TableCore {
 public:
  using Scalar = T;

  Index num_embeddings() const { return num_; }
  Index embedding_dim() const { return dim_; }
  std::optional<Index> padding_idx() const { return options_.padding_idx; }  // normalized
  std::optional<double> max_norm() const { return options_.max_norm; }
  double norm_type() const { return options_.norm_type; }
  bool scale_grad_by_freq() const { return options_.scale_grad_by_freq; }

  // (num_embeddings, embedding_dim), row-major: weight().row(i) is the vector of id i. Throws
  // std::logic_error for a memory-mapped table, which has no Matrix to hand out: use view().
  Matrix<T>& weight() {
    check_owned("weight");
    return weight_;
  }
  const Matrix<T>& weight() const {
    check_owned("weight");
    return weight_;
  }

  // The weight as a read-only matrix, owned or mapped alike (no copy).
  Eigen::Map<const Matrix<T>> view() const { return {data(), num_, dim_}; }

  // Whether the rows live in a mapped file (from_mapped): read-only and always frozen.
  bool mapped() const { return mapped_.data() != nullptr; }

  // A frozen table still looks up (and renorms with max_norm) but backward returns an empty
  // gradient, as PyTorch's requires_grad = False. A mapped table cannot be unfrozen
  // (std::logic_error).
  bool frozen() const { return frozen_; }
  void set_frozen(bool frozen) {
    if (!frozen) check_owned("set_frozen");
    frozen_ = frozen;
  }

 protected:
  // N(0, 1) rows (reproducibly with a seed), the padding row zeroed.
  TableCore(const char* kind, Index num, Index dim, const TableOptions& options, std::uint64_t seed)
      : kind_(kind), options_(options), weight_(allocate_table<T>(num, dim)), num_(num), dim_(dim) {
    fill_normal(weight_.data(), weight_.size(), seed);
    if (options_.padding_idx) weight_.row(*options_.padding_idx).setZero();
  }
  // Copies allocate the weight with allocate_table, as a new table does: the implicit copy would
  // malloc it without huge-page advice, and W2's training step (bench_embedding's train_step,
  // docs/PERFORMANCE.md) then took a median 10 % longer on a copy than on the table itself.
  TableCore(const TableCore& other)
      : kind_(other.kind_),
        options_(other.options_),
        weight_(copy_table<T>(other.weight_)),
        mapped_(other.mapped_),
        num_(other.num_),
        dim_(other.dim_),
        frozen_(other.frozen_) {}
  TableCore& operator=(const TableCore& other) {
    if (this != &other) *this = TableCore(other);
    return *this;
  }
  TableCore(TableCore&&) noexcept = default;
  TableCore& operator=(TableCore&&) noexcept = default;
  ~TableCore() = default;

  // Owns `weight` (already checked against the options).
  TableCore(const char* kind, const TableOptions& options, Matrix<T>&& weight, bool frozen)
      : kind_(kind),
        options_(options),
        weight_(std::move(weight)),
        num_(weight_.rows()),
        dim_(weight_.cols()),
        frozen_(frozen) {}
  // Reads `rows` where they are: frozen, and without max_norm, which would write to them.
  TableCore(const char* kind, const TableOptions& options, MappedTable<T> rows)
      : kind_(kind),
        options_(options),
        mapped_(std::move(rows)),
        num_(mapped_.rows()),
        dim_(mapped_.cols()),
        frozen_(true) {
    if (options_.max_norm) {
      throw_invalid(kind,
                    "::from_mapped: max_norm renorms rows in place, which a read-only "
                    "mapped table cannot do");
    }
  }

  const T* data() const { return mapped() ? mapped_.data() : weight_.data(); }
  DenseRows<T> rows() const { return {data(), num_, dim_}; }

  // out row i = row ids[i], no renorm: `out` must be (ids.size(), embedding_dim).
  template <class Out>
  void gather(const char* where, const Indices& ids, Out& out) const {
    const auto n = static_cast<Index>(ids.size());
    if (out.rows() != n || out.cols() != dim_) {
      throw_invalid(where, ": out has shape (", out.rows(), ", ", out.cols(), ") but (", n, ", ",
                    dim_, ") is needed");
    }
    check_indices(where, ids, num_);
    gather_checked(ids, out);
  }
  // The same for ids and an out already checked.
  template <class Out>
  void gather_checked(const Indices& ids, Out& out) const {
    ids.visit([&](auto span) {
      gather_rows(rows(), span.data(), span.size(), out.data(), out.outerStride());
    });
  }

  // max_norm: renorms the distinct rows among the first n of `ids` (validated) in place.
  template <class I>
  void renorm(const I* ids, std::size_t n) {
    renorm_if_max_norm(weight_, ids, n, options_);
  }
  void renorm(const Indices& ids) {
    ids.visit([&](auto span) { renorm(span.data(), span.size()); });
  }

  Gradient<T> empty_gradient() const {
    Gradient<T> empty;
    empty.num_embeddings = num_;
    empty.values.resize(0, dim_);
    return empty;
  }

  const TableOptions& table_options() const { return options_; }

  // The checkpoint record: options, frozen flag, the kind's extra fields, the weight.
  template <class... Extra>
  void save_record(std::ostream& out, const Extra&... extra) const {
    checkpoint::save_table(out, kind_, options_, frozen_, view(), extra...);
  }
  template <class... Extra>
  checkpoint::TableRecord<T, Extra...> read_record(std::istream& in) const {
    return checkpoint::read_table<T, Extra...>(in, kind_, num_, dim_);
  }
  // Takes over a verified record (a mapped table becomes an owned one). Never throws.
  template <class... Extra>
  void adopt_record(checkpoint::TableRecord<T, Extra...>& loaded) noexcept {
    options_ = loaded.options;
    frozen_ = loaded.frozen;
    weight_.swap(loaded.weight);
    mapped_ = MappedTable<T>();
  }

 private:
  void check_owned(const char* what) const {
    if (mapped()) {
      throw std::logic_error(message(kind_, "::", what, ": the table is read-only, mapped from a ",
                                     "file (use view() to read it, or from_pretrained(view()) ",
                                     "for a trainable copy)"));
    }
  }

  const char* kind_;
  TableOptions options_;
  Matrix<T> weight_;       // the rows, unless mapped
  MappedTable<T> mapped_;  // the rows, when mapped from a file
  Index num_ = 0;
  Index dim_ = 0;
  bool frozen_ = false;
};

}  // namespace emb::detail
