#pragma once
// Tables sharded by rows over the ranks of an MPI communicator: ShardedEmbedding and
// ShardedEmbeddingBag, their checkpoints, and loading shards into a whole table. Needs MPI (link
// emb::distributed); emb.hpp does not include this header. docs/DISTRIBUTED.md has the cost model.
//
// Every member function that communicates is collective: every rank of the communicator calls it,
// in the same order, each with its own arguments. Bad arguments on any rank make every rank throw
// the same exception (no rank is left waiting), and nothing changes on any rank.

#include <algorithm>   // std::copy, std::max, std::min
#include <climits>     // INT_MAX
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint64_t
#include <filesystem>  // std::filesystem::path
#include <fstream>     // std::ifstream
#include <istream>     // std::istream
#include <limits>      // std::numeric_limits
#include <optional>    // std::optional
#include <ostream>     // std::ostream
#include <span>        // std::span
#include <string>      // std::string
#include <tuple>       // std::tuple, std::get
#include <utility>     // std::move
#include <vector>      // std::vector

#include <mpi.h>

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/mpi.hpp"
#include "emb/detail/mpi_checkpoint.hpp"
#include "emb/detail/mpi_shard.hpp"
#include "emb/detail/random.hpp"
#include "emb/detail/table.hpp"
#include "emb/embedding.hpp"
#include "emb/embedding_bag.hpp"
#include "emb/gradient.hpp"
#include "emb/indices.hpp"
#include "emb/types.hpp"

namespace emb::detail::mpi {

inline bool same_options(const TableOptions& a, const TableOptions& b) {
  return a.padding_idx == b.padding_idx && a.max_norm == b.max_norm && a.norm_type == b.norm_type &&
         a.scale_grad_by_freq == b.scale_grad_by_freq;
}

// Reads rows [begin, end) of a (num, dim) table from `files`: each file's first record is either
// one shard of `shard_kind` (any row range, from any number of ranks) or a whole table of
// `whole_kind`. Every record must hold the same shape, options and extras; every row of the range
// must be in some file. With num == 0 the shape is taken from the first shard record and the whole
// table is read. Throws std::runtime_error (naming the file) otherwise.
template <class T, class... Extra>
checkpoint::ShardRecord<T, Extra...> read_rows(std::span<const std::filesystem::path> files,
                                               std::string_view shard_kind,
                                               std::string_view whole_kind, const char* where,
                                               Index num, Index dim, Index begin, Index end) {
  checkpoint::ShardRecord<T, Extra...> out;
  std::vector<char> covered;
  bool first = true;
  auto take = [&](const std::filesystem::path& file, Index n, Index d, Index row_begin,
                  const TableOptions& options, bool frozen, const std::tuple<Extra...>& extra,
                  const Matrix<T>& rows) {
    if (first && num == 0) {
      num = n;
      dim = d;
      end = n;
    }
    if (n != num || d != dim) {
      throw_runtime(where, ": ", file.string(), " holds a (", n, ", ", d, ") table, not (", num,
                    ", ", dim, ")");
    }
    if (first) {
      out.num_embeddings = num;
      out.embedding_dim = dim;
      out.row_begin = begin;
      out.row_end = end;
      out.options = options;
      out.frozen = frozen;
      out.extra = extra;
      out.weight = allocate_table<T>(end - begin, dim);  // becomes a table: on huge pages
      covered.assign(static_cast<std::size_t>(end - begin), 0);
      first = false;
    } else if (!same_options(options, out.options) || frozen != out.frozen || extra != out.extra) {
      throw_runtime(where, ": ", file.string(), " holds other options than ", files[0].string());
    }
    const Index low = std::max(row_begin, begin);
    const Index high = std::min(row_begin + rows.rows(), end);
    for (Index i = low; i < high; ++i) {
      out.weight.row(i - begin) = rows.row(i - row_begin);
      covered[static_cast<std::size_t>(i - begin)] = 1;
    }
  };
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw_runtime(where, ": cannot open ", file.string());
    const std::string kind = checkpoint::peek_kind(in);
    if (kind == shard_kind) {
      auto record = checkpoint::read_shard<T, Extra...>(in, shard_kind);
      take(file, record.num_embeddings, record.embedding_dim, record.row_begin, record.options,
           record.frozen, record.extra, record.weight);
    } else if (kind == whole_kind && num > 0) {
      auto record = checkpoint::read_table<T, Extra...>(in, whole_kind, num, dim);
      take(file, num, dim, 0, record.options, record.frozen, record.extra, record.weight);
    } else {
      throw_runtime(where, ": ", file.string(), " does not start with a ", shard_kind,
                    num > 0 ? message(" or ", whole_kind) : std::string(), " record",
                    kind.empty() ? std::string() : message(" (it holds ", kind, ")"));
    }
  }
  if (first) throw_runtime(where, ": no checkpoint files were given");
  for (std::size_t i = 0; i < covered.size(); ++i) {
    if (!covered[i]) {
      throw_runtime(where, ": row ", begin + static_cast<Index>(i), " is in none of the ",
                    files.size(), " files");
    }
  }
  return out;
}

// What ShardedEmbedding and ShardedEmbeddingBag share: the communicator, the row blocks, the
// local shard, its construction, gather and checkpoints. Table is the derived class, which
// supplies kind names, the local table's construction and any extra checkpoint fields.
template <class Local, class Table, class... Extra>
class ShardedTable {
 public:
  using Scalar = typename Local::Scalar;
  using T = Scalar;

  Index num_embeddings() const { return blocks_.num_embeddings(); }
  Index embedding_dim() const { return dim_; }
  std::optional<Index> padding_idx() const { return options_.padding_idx; }  // global, normalized
  std::optional<double> max_norm() const { return options_.max_norm; }
  double norm_type() const { return options_.norm_type; }
  bool scale_grad_by_freq() const { return options_.scale_grad_by_freq; }

  MPI_Comm comm() const { return comm_.get(); }  // the table's own duplicate of the communicator
  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }

  // This rank holds global rows [row_begin(), row_end()): blocks as even as they can be, rank
  // order; with fewer rows than ranks the last ranks hold none.
  Index row_begin() const { return blocks_.begin(rank()); }
  Index row_end() const { return blocks_.end(rank()); }
  Index num_local_rows() const { return blocks_.rows(rank()); }
  // The rows rank `r` holds: [row_begin(r), row_end(r)), for r in [0, size()).
  Index row_begin(int r) const { return blocks_.begin(r); }
  Index row_end(int r) const { return blocks_.end(r); }
  // The rank that holds global row `id`, in [0, num_embeddings()).
  int owner(Index id) const { return blocks_.owner(id); }

  // The shard: local row i is global row row_begin() + i. Optimizers bind to it, and step it
  // with the gradient backward returns. Its padding_idx is the global one shifted, when this rank
  // holds that row. A rank holding no rows has a one-row placeholder table (emb tables have at
  // least one row) that is never looked up, saved or gathered.
  Local& local() { return local_; }
  const Local& local() const { return local_; }

  bool frozen() const { return local_.frozen(); }
  void set_frozen(bool frozen) { local_.set_frozen(frozen); }  // this rank's shard

  // The whole (num_embeddings, embedding_dim) table on rank `root`, a (0, embedding_dim) matrix on
  // the others. Collective. Throws std::invalid_argument for a root outside [0, size()) or a table
  // of more than INT_MAX rows.
  Matrix<T> gather(int root = 0) const {
    const char* where = Table::gather_name;
    agree(comm_, where, [&] {
      if (root < 0 || root >= size()) {
        throw_invalid(where, ": root ", root, " is out of range [0, ", size(), ")");
      }
      if (num_embeddings() > INT_MAX) {
        throw_invalid(where, ": ", num_embeddings(), " rows are more than one MPI call can move");
      }
    });
    Matrix<T> all = allocate_table<T>(rank() == root ? num_embeddings() : 0, dim_);
    std::vector<int> counts(static_cast<std::size_t>(size())), displs(counts.size());
    for (int r = 0; r < size(); ++r) {
      counts[static_cast<std::size_t>(r)] = static_cast<int>(blocks_.rows(r));
      displs[static_cast<std::size_t>(r)] = static_cast<int>(blocks_.begin(r));
    }
    RowType<T> row(dim_);
    check(MPI_Gatherv(local_.weight().data(), static_cast<int>(num_local_rows()), row.get(),
                      all.data(), counts.data(), displs.data(), row.get(), root, comm_.get()),
          where, "MPI_Gatherv");
    return all;
  }

  // Writes this rank's shard as one checkpoint record (docs/DISTRIBUTED.md): the global shape,
  // the row range, the options, the frozen flag and the block of rows. Not collective: each rank
  // writes its own file, e.g. emb::save_checkpoint(path + rank, table, optimizer). Throws
  // std::runtime_error when the stream fails.
  void save(std::ostream& out) const {
    std::apply(
        [&](const auto&... extra) {
          checkpoint::save_shard<T>(out, Table::kind, num_embeddings(), row_begin(), options_,
                                    local_.frozen(), local_.weight().topRows(num_local_rows()),
                                    extra...);
        },
        static_cast<const Table&>(*this).extras());
  }

  // Reads what save() wrote on this rank: a shard of the same global shape, options and row
  // range (the same number of ranks). Not collective. Throws std::runtime_error for a truncated,
  // corrupted or mismatched record and leaves the table unchanged; load_shards reads shards of
  // another layout. Optimizers bound to local() stay bound.
  void load(std::istream& in) { adopt(read_state(in)); }

  // Collective: fills this rank's rows from checkpoint files, whatever layout wrote them: shards
  // saved by any number of ranks (each file's first record; pass every rank's file, or those
  // holding this rank's rows) or one whole table saved by Embedding / EmbeddingBag::save
  // (emb::save_checkpoint). The records must hold this table's shape and options; the frozen
  // flag is taken from them. Throws std::runtime_error on every rank when any rank cannot read
  // its rows (missing or bad file, mismatch, rows in no file); no rank changes then.
  void load_shards(std::span<const std::filesystem::path> files) {
    Record record;
    agree(comm_, Table::load_name, [&] {
      record = read_rows<T, Extra...>(files, Table::kind, Table::whole_kind, Table::load_name,
                                      num_embeddings(), dim_, row_begin(), row_end());
      check_record(record);
    });
    adopt(std::move(record));
  }

 protected:
  using Record = checkpoint::ShardRecord<T, Extra...>;

  // Validates the shape and options on every rank (agreed), checks that every rank passed the
  // same ones, then builds this rank's block: rows of `pretrained` when given, else N(0, 1) from
  // the seed (rank 0's random seed when unset), the padding row zeroed.
  template <class Options, class Check, class Pretrained>
  ShardedTable(MPI_Comm comm, Index num, Index dim, const Options& options, Check&& check_options,
               const Pretrained* pretrained, bool freeze, Fingerprint fingerprint)
      : comm_(comm, Table::kind),
        options_(
            agreed(num, dim, options, check_options, std::move(fingerprint), pretrained, freeze)),
        dim_(dim),
        blocks_(num, comm_.size()),
        local_(Table::make_local(local_block(options, pretrained), local_padding(), options,
                                 pretrained ? freeze : false)) {}

  ShardedTable(ShardedTable&&) = default;
  ShardedTable& operator=(ShardedTable&&) = default;

  const Communicator& communicator() const { return comm_; }
  const RowBlocks& blocks() const { return blocks_; }
  const TableOptions& options() const { return options_; }

  // The local padding row: the global one shifted, when this rank holds it.
  std::optional<Index> local_padding() const {
    const auto p = options_.padding_idx;
    if (p && *p >= row_begin() && *p < row_end()) return *p - row_begin();
    return std::nullopt;
  }

  // Every per-call count is checked against this, so no MPI count overflows int.
  void check_count(const char* where, Index items) const {
    if (items > max_items(comm_)) {
      throw_invalid(where, ": ", items, " items in one call are more than ", max_items(comm_),
                    " (INT_MAX / ranks)");
    }
  }

  // Ids bucketed by owner: the send half of a plan (counts and displacements), the owner-local
  // ids in bucket order (rank order, then input order), and the input position of each.
  struct Route {
    Plan plan;
    std::vector<Index> ids;
    std::vector<Index> order;
  };
  template <class I>
  Route route(const I* indices, std::size_t n) const {
    Route out;
    std::vector<int> counts(static_cast<std::size_t>(size()), 0);
    std::vector<int> owners(n);
    for (std::size_t i = 0; i < n; ++i) {
      owners[i] = blocks_.owner(static_cast<Index>(indices[i]));
      ++counts[static_cast<std::size_t>(owners[i])];
    }
    std::vector<int> next = displacements(counts);
    out.ids.resize(n);
    out.order.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto o = static_cast<std::size_t>(owners[i]);
      const auto k = static_cast<std::size_t>(next[o]++);
      out.ids[k] = static_cast<Index>(indices[i]) - blocks_.begin(owners[i]);
      out.order[k] = static_cast<Index>(i);
    }
    out.plan.send_displs = displacements(counts);
    out.plan.send_counts = std::move(counts);
    return out;
  }

 private:
  friend struct checkpoint::Access;

  template <class Options, class Check, class Pretrained>
  TableOptions agreed(Index num, Index dim, const Options& options, Check& check_options,
                      Fingerprint fingerprint, const Pretrained* pretrained, bool freeze) {
    TableOptions checked;
    agree(comm_, Table::kind, [&] {
      if (pretrained) {
        num = pretrained->rows();
        dim = pretrained->cols();
      }
      check_shape(Table::kind, num, dim);
      check_options(options);
      checked = make_table_options(Table::kind, num, options.padding_idx, options.max_norm,
                                   options.norm_type, options.scale_grad_by_freq);
    });
    fingerprint.add("num_embeddings", num);
    fingerprint.add("embedding_dim", dim);
    fingerprint.add("padding_idx", checked.padding_idx);
    fingerprint.add("max_norm", checked.max_norm);
    fingerprint.add("norm_type", checked.norm_type);
    fingerprint.add("scale_grad_by_freq", checked.scale_grad_by_freq);
    fingerprint.add("seed", options.seed);
    fingerprint.add("from_pretrained", pretrained != nullptr);
    fingerprint.add("freeze", pretrained != nullptr && freeze);
    fingerprint.check(comm_, Table::kind);
    return checked;
  }

  template <class Options, class Pretrained>
  Matrix<T> local_block(const Options& options, const Pretrained* pretrained) {
    const Index rows = num_local_rows();
    if (pretrained) {
      if (rows == 0) return Matrix<T>::Zero(1, dim_);
      return copy_table<T>(pretrained->middleRows(row_begin(), rows));
    }
    std::uint64_t seed = options.seed ? *options.seed : seed_or_random(std::nullopt);
    if (!options.seed) {  // one table, as if one process had drawn it
      check(MPI_Bcast(&seed, 1, MPI_UINT64_T, 0, comm_.get()), Table::kind, "MPI_Bcast");
    }
    if (rows == 0) return Matrix<T>::Zero(1, dim_);
    Matrix<T> block = allocate_table<T>(rows, dim_);
    fill_normal_range(block.data(), row_begin() * dim_, row_end() * dim_, seed);
    if (const auto p = local_padding()) block.row(*p).setZero();
    return block;
  }

  void check_record(const Record& record) const {
    if (!same_options(record.options, options_) ||
        record.extra != static_cast<const Table&>(*this).extras()) {
      throw_runtime(Table::load_name,
                    ": the checkpoint holds other options than this table's (padding_idx, "
                    "max_norm, norm_type, scale_grad_by_freq or mode)");
    }
  }

  Record read_state(std::istream& in) const {
    Record record = checkpoint::read_shard<T, Extra...>(in, Table::kind);
    if (record.num_embeddings != num_embeddings() || record.embedding_dim != dim_ ||
        record.row_begin != row_begin() || record.row_end != row_end()) {
      throw_runtime(Table::load_name, ": the checkpoint holds rows [", record.row_begin, ", ",
                    record.row_end, ") of a (", record.num_embeddings, ", ", record.embedding_dim,
                    ") table, but rank ", rank(), " holds rows [", row_begin(), ", ", row_end(),
                    ") of a (", num_embeddings(), ", ", dim_,
                    ") table (load_shards reads another layout)");
    }
    check_record(record);
    return record;
  }

  void adopt(Record&& record) noexcept {
    local_.weight().topRows(num_local_rows()) = record.weight;  // same shape: no allocation
    local_.set_frozen(record.frozen);
  }

  Communicator comm_;
  TableOptions options_;
  Index dim_;
  RowBlocks blocks_;
  Local local_;
};

}  // namespace emb::detail::mpi

namespace emb::distributed {

// An (num_embeddings, embedding_dim) Embedding whose rows are spread over the ranks of an MPI
// communicator in contiguous blocks: rank r holds rows [row_begin(), row_end()) in local(). Each
// rank looks up its own ids (global numbering); forward and backward move ids, rows and gradients
// to and from their owners with MPI_Alltoallv. The results equal one whole Embedding's on the
// concatenation of all ranks' ids in rank order: lookups bit for bit, and gradients too, since
// each owner sums a row's contributions in rank order, then input order.
//
// Example (every rank):
//   emb::distributed::ShardedEmbedding<float> table(MPI_COMM_WORLD, 1000000, 64, {.seed = 1});
//   emb::optim::Adam opt(table.local(), {.lr = 0.01, .lazy = true});
//   emb::Matrix<float> out = table.forward(my_ids);              // (my_ids.size(), 64)
//   opt.step(table.backward(my_ids, dloss));                     // steps this rank's rows
template <class T>
class ShardedEmbedding : public detail::mpi::ShardedTable<Embedding<T>, ShardedEmbedding<T>> {
  using Base = detail::mpi::ShardedTable<Embedding<T>, ShardedEmbedding<T>>;
  friend Base;

 public:
  // Collective. Every rank passes the same sizes and options; rank r draws only its block of the
  // table Embedding<T>(num_embeddings, embedding_dim, options) draws (bit for bit when
  // options.seed is set; unset, rank 0 draws a seed for all). Throws, on every rank:
  // std::invalid_argument / std::out_of_range as Embedding's constructor, and
  // std::invalid_argument when the ranks passed different sizes or options.
  ShardedEmbedding(MPI_Comm comm, Index num_embeddings, Index embedding_dim,
                   EmbeddingOptions options = {})
      : Base(comm, num_embeddings, embedding_dim, options, no_check, no_weight(), false, {}) {}

  // Collective. Every rank passes the same full weight (and options) and keeps a copy of its
  // block. As Embedding::from_pretrained, the padding row is not zeroed and the table is frozen
  // unless freeze is false. The weights' values are not compared across ranks; their shape is.
  template <class Derived>
  static ShardedEmbedding from_pretrained(MPI_Comm comm, const Eigen::MatrixBase<Derived>& weight,
                                          EmbeddingOptions options = {}, bool freeze = true) {
    return ShardedEmbedding(comm, weight, options, freeze);
  }

  // Collective. (indices.size(), embedding_dim): row i is global row indices[i], bit for bit as
  // one whole table's forward. With max_norm, the owners first renorm the distinct rows that any
  // rank looks up. Throws std::out_of_range on every rank when any rank passes an index outside
  // [0, num_embeddings), before anything changes.
  Matrix<T> forward(Indices indices) {
    const auto& comm = this->communicator();
    detail::mpi::agree(comm, forward_name, [&] {
      this->check_count(forward_name, static_cast<Index>(indices.size()));
      detail::check_indices(forward_name, indices, this->num_embeddings());
    });
    if (this->size() == 1) return this->local().forward(indices);  // the shard is the table
    return indices.visit([&](auto span) { return forward_flat(span); });
  }

  // Collective. The gradient with respect to local()'s weight (local row numbering) given this
  // rank's ids and the gradient of its forward output, (indices.size(), embedding_dim): each
  // row's contributions from every rank summed in rank order, then input order; the padding row
  // gets none; with scale_grad_by_freq each row is divided by its count over all ranks' ids.
  // Equal, bit for bit, to the rows [row_begin(), row_end()) of one whole table's backward on all
  // ranks' ids concatenated in rank order. Any optimizer bound to local() steps with it. A frozen
  // shard returns an empty gradient. Throws on every rank, before anything moves:
  // std::out_of_range for a bad index, std::invalid_argument for a grad_output of the wrong shape.
  Gradient<T> backward(Indices indices, const Eigen::Ref<const Matrix<T>>& grad_output) {
    const auto n = static_cast<Index>(indices.size());
    const Index dim = this->embedding_dim();
    detail::mpi::agree(this->communicator(), backward_name, [&] {
      this->check_count(backward_name, n);
      if (grad_output.rows() != n || grad_output.cols() != dim) {
        detail::throw_invalid(backward_name, ": grad_output has shape (", grad_output.rows(), ", ",
                              grad_output.cols(), ") but (", n, ", ", dim, ") is needed");
      }
      detail::check_indices(backward_name, indices, this->num_embeddings());
    });
    if (this->size() == 1) return this->local().backward(indices, grad_output);
    return indices.visit([&](auto span) { return backward_flat(span, grad_output); });
  }

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::distributed::ShardedEmbedding";
  static constexpr const char* whole_kind = "emb::Embedding";
  static constexpr const char* forward_name = "emb::distributed::ShardedEmbedding::forward";
  static constexpr const char* backward_name = "emb::distributed::ShardedEmbedding::backward";
  static constexpr const char* gather_name = "emb::distributed::ShardedEmbedding::gather";
  static constexpr const char* load_name = "emb::distributed::ShardedEmbedding::load";

  static void no_check(const EmbeddingOptions&) {}
  static const Matrix<T>* no_weight() { return nullptr; }
  std::tuple<> extras() const { return {}; }

  template <class Derived>
  ShardedEmbedding(MPI_Comm comm, const Eigen::MatrixBase<Derived>& weight,
                   const EmbeddingOptions& options, bool freeze)
      : Base(comm, weight.rows(), weight.cols(), options, no_check, &weight, freeze, {}) {}

  static Embedding<T> make_local(Matrix<T>&& block, std::optional<Index> padding,
                                 const EmbeddingOptions& options, bool freeze) {
    return Embedding<T>::from_pretrained(std::move(block),
                                         {.padding_idx = padding,
                                          .max_norm = options.max_norm,
                                          .norm_type = options.norm_type,
                                          .scale_grad_by_freq = options.scale_grad_by_freq},
                                         freeze);
  }

  // Rows in flight, kept between calls: the pages of buffers this large are costly to fault in
  // afresh every step (most of a step's time where memory is contended). owned_: rows this rank
  // owns, looked up or receiving gradient; mine_: rows of this rank's ids, in bucket order.
  std::vector<T> owned_, mine_;
  Eigen::Map<Matrix<T>> scratch(std::vector<T>& buffer, Index rows) {
    const auto size = static_cast<std::size_t>(rows * this->embedding_dim());
    if (buffer.size() < size) buffer.resize(size);
    return {buffer.data(), rows, this->embedding_dim()};
  }

  // Validated ids: to their owners, rows back in the caller's order.
  template <class I>
  Matrix<T> forward_flat(std::span<const I> indices) {
    const auto& comm = this->communicator();
    auto routed = this->route(indices.data(), indices.size());
    const auto plan = detail::mpi::make_plan(comm, forward_name, routed.plan.send_counts);
    std::vector<Index> local_ids(static_cast<std::size_t>(plan.received()));
    detail::mpi::exchange(comm, forward_name, plan, routed.ids.data(), local_ids.data(),
                          MPI_INT64_T);
    const Index dim = this->embedding_dim();
    auto rows = scratch(owned_, static_cast<Index>(local_ids.size()));
    this->local().forward(std::span<const Index>(local_ids), rows);
    auto back = scratch(mine_, static_cast<Index>(indices.size()));
    detail::mpi::RowType<T> row(dim);
    detail::mpi::exchange(comm, forward_name, plan.reversed(), rows.data(), back.data(), row.get());
    Matrix<T> out = detail::allocate_table<T>(back.rows(), dim);
    for (std::size_t k = 0; k < routed.order.size(); ++k) {
      out.row(routed.order[k]) = back.row(static_cast<Index>(k));
    }
    return out;
  }

  // Validated ids and gradient rows: to their owners, which sum them in rank, then input order.
  template <class I>
  Gradient<T> backward_flat(std::span<const I> indices,
                            const Eigen::Ref<const Matrix<T>>& grad_output) {
    const auto& comm = this->communicator();
    const auto n = static_cast<Index>(indices.size());
    const Index dim = this->embedding_dim();
    auto routed = this->route(indices.data(), indices.size());
    const auto plan = detail::mpi::make_plan(comm, backward_name, routed.plan.send_counts);
    std::vector<Index> local_ids(static_cast<std::size_t>(plan.received()));
    detail::mpi::exchange(comm, backward_name, plan, routed.ids.data(), local_ids.data(),
                          MPI_INT64_T);
    auto send = scratch(mine_, n);
    for (std::size_t k = 0; k < routed.order.size(); ++k) {
      send.row(static_cast<Index>(k)) = grad_output.row(routed.order[k]);
    }
    auto grads = scratch(owned_, static_cast<Index>(local_ids.size()));
    detail::mpi::RowType<T> row(dim);
    detail::mpi::exchange(comm, backward_name, plan, send.data(), grads.data(), row.get());
    return this->local().backward(std::span<const Index>(local_ids), grads);
  }
};

// What ShardedEmbeddingBag::forward returns: this rank's pooled bags and, by value, what backward
// needs on this rank, both as the caller of its bags and as the owner of its rows.
template <class T>
struct ShardedBagResult {
  Matrix<T> output;                // (B, embedding_dim): row b pools this rank's bag b
  BagMode mode = BagMode::mean;    // the mode of the table that made it
  std::vector<Index> offsets;      // B + 1 entries: bag b is positions [offsets[b], offsets[b + 1])
  std::vector<Index> counts;       // mean: the non-padding entries of each bag
  Matrix<Index> winners;           // max: (B, embedding_dim) winning positions, -1 where none
  Index num_indices = 0;           // this rank's indices, in bags or not
  bool weighted = false;           // this rank passed per-sample weights
  bool any_weighted = false;       // some rank did
  std::vector<int> bags_per_rank;  // B of every rank
  detail::mpi::Plan plan;          // who sent how many ids to whom
  std::vector<Index> order;        // the input position of each id sent, in bucket order
  BagResult<T> shard;              // local()'s partial pooling of every rank's bags
  std::vector<Index> shard_positions;  // max: each shard entry's position in its rank's call

  Index num_bags() const { return output.rows(); }
};

// An EmbeddingBag sharded by rows as ShardedEmbedding, pooled as TorchRec's row-wise sharding:
// every rank sends each owner its bags' ids in the owner's rows (with per-bag lengths), each owner
// pools partial sums (or maxima) of every rank's bags over its rows, and an MPI_Reduce_scatter
// adds the partials (MPI_SUM) or picks the largest with its position (MPI_MAXLOC) and gives each
// rank its own bags. Modes, padding, max_norm, scale_grad_by_freq and per_sample_weights behave as
// EmbeddingBag's. Results equal one whole EmbeddingBag's on all ranks' bags in rank order: max
// bit for bit; sum and mean to float rounding, since partial sums add rows in another association
// (bit for bit where a bag's rows live on one rank). Gradients are bit for bit (sum, mean and max;
// mean with scale_grad_by_freq to float rounding).
//
// local() pools partial sums, so it is an EmbeddingBag in mode sum when this table's mode is mean
// (the division by each bag's count happens on the rank that owns the bag).
template <class T>
class ShardedEmbeddingBag
    : public detail::mpi::ShardedTable<EmbeddingBag<T>, ShardedEmbeddingBag<T>, BagMode, bool> {
  using Base = detail::mpi::ShardedTable<EmbeddingBag<T>, ShardedEmbeddingBag<T>, BagMode, bool>;
  friend Base;

 public:
  // Collective; as ShardedEmbedding's, with EmbeddingBag's option checks.
  ShardedEmbeddingBag(MPI_Comm comm, Index num_embeddings, Index embedding_dim,
                      EmbeddingBagOptions options = {})
      : Base(comm, num_embeddings, embedding_dim, options, check_bag_options, no_weight(), false,
             fingerprint(options)),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset) {}

  // Collective; as ShardedEmbedding::from_pretrained.
  template <class Derived>
  static ShardedEmbeddingBag from_pretrained(MPI_Comm comm,
                                             const Eigen::MatrixBase<Derived>& weight,
                                             EmbeddingBagOptions options = {}, bool freeze = true) {
    return ShardedEmbeddingBag(comm, weight, options, freeze);
  }

  BagMode mode() const { return mode_; }
  bool include_last_offset() const { return include_last_offset_; }

  // Collective. Pools this rank's bags (indices in global numbering, offsets and
  // per_sample_weights as EmbeddingBag::forward): output (B, embedding_dim). Throws on every
  // rank, as EmbeddingBag::forward, when any rank's arguments are bad; nothing changes then.
  ShardedBagResult<T> forward(Indices indices, Indices offsets,
                              std::span<const T> per_sample_weights = {}) {
    std::vector<Index> starts(offsets.size());
    offsets.visit([&](auto span) { std::copy(span.begin(), span.end(), starts.begin()); });
    detail::mpi::agree(this->communicator(), forward_name,
                       [&] { validate(indices, starts, per_sample_weights); });
    return indices.visit([&](auto span) { return forward_bags(span, starts, per_sample_weights); });
  }

  // Collective. The gradient with respect to local()'s weight (local numbering), and this rank's
  // per-sample weights' gradient when it passed them, given the gradient of result.output
  // (B, embedding_dim). `result` must be what forward returned on this rank in the same collective
  // call. Throws std::invalid_argument on every rank for a grad_output of the wrong shape or a
  // result of another mode.
  BagGradient<T> backward(const ShardedBagResult<T>& result,
                          const Eigen::Ref<const Matrix<T>>& grad_output);

 private:
  friend struct detail::checkpoint::Access;
  static constexpr const char* kind = "emb::distributed::ShardedEmbeddingBag";
  static constexpr const char* whole_kind = "emb::EmbeddingBag";
  static constexpr const char* forward_name = "emb::distributed::ShardedEmbeddingBag::forward";
  static constexpr const char* backward_name = "emb::distributed::ShardedEmbeddingBag::backward";
  static constexpr const char* gather_name = "emb::distributed::ShardedEmbeddingBag::gather";
  static constexpr const char* load_name = "emb::distributed::ShardedEmbeddingBag::load";

  static const Matrix<T>* no_weight() { return nullptr; }
  static void check_bag_options(const EmbeddingBagOptions& options) {
    if (options.mode != BagMode::sum && options.mode != BagMode::mean &&
        options.mode != BagMode::max) {
      detail::throw_invalid(kind, ": unknown mode ", static_cast<int>(options.mode));
    }
    if (options.mode == BagMode::max && options.scale_grad_by_freq) {
      detail::throw_invalid(kind,
                            ": scale_grad_by_freq is not supported with mode max (as PyTorch)");
    }
  }
  static detail::mpi::Fingerprint fingerprint(const EmbeddingBagOptions& options) {
    detail::mpi::Fingerprint f;
    f.add("mode", static_cast<std::int64_t>(options.mode));
    f.add("include_last_offset", options.include_last_offset);
    return f;
  }
  std::tuple<BagMode, bool> extras() const { return {mode_, include_last_offset_}; }

  template <class Derived>
  ShardedEmbeddingBag(MPI_Comm comm, const Eigen::MatrixBase<Derived>& weight,
                      const EmbeddingBagOptions& options, bool freeze)
      : Base(comm, weight.rows(), weight.cols(), options, check_bag_options, &weight, freeze,
             fingerprint(options)),
        mode_(options.mode),
        include_last_offset_(options.include_last_offset) {}

  static EmbeddingBag<T> make_local(Matrix<T>&& block, std::optional<Index> padding,
                                    const EmbeddingBagOptions& options, bool freeze) {
    return EmbeddingBag<T>::from_pretrained(
        std::move(block),
        {.mode = options.mode == BagMode::max ? BagMode::max : BagMode::sum,
         .padding_idx = padding,
         .max_norm = options.max_norm,
         .norm_type = options.norm_type,
         .scale_grad_by_freq = options.scale_grad_by_freq},
        freeze);
  }

  // The bag bounds of a validated call: B + 1 entries.
  std::vector<Index> bounds(std::span<const Index> offsets, Index n) const {
    std::vector<Index> out(offsets.begin(), offsets.end());
    if (out.empty()) {
      out.push_back(0);
    } else if (!include_last_offset_) {
      out.push_back(n);
    }
    return out;
  }

  void validate(const Indices& indices, std::span<const Index> offsets,
                std::span<const T> per_sample_weights) const {
    const auto n = static_cast<Index>(indices.size());
    if (include_last_offset_ && offsets.empty()) {
      detail::throw_invalid(forward_name,
                            ": include_last_offset needs at least one offset (the end of the "
                            "last bag), got none");
    }
    for (std::size_t b = 0; b < offsets.size(); ++b) {
      if (b == 0 && offsets[0] != 0) {
        detail::throw_invalid(forward_name, ": offsets[0] is ", offsets[0], " but must be 0");
      }
      const Index low = b == 0 ? 0 : offsets[b - 1];
      if (offsets[b] < low || offsets[b] > n) {
        detail::throw_out_of_range(forward_name, ": offsets[", b, "] is ", offsets[b],
                                   ", out of range [", low, ", ", n,
                                   "]: offsets must be non-decreasing and at most the number of "
                                   "indices");
      }
    }
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
    detail::check_indices(forward_name, indices, this->num_embeddings());
    const auto bags = static_cast<Index>(offsets.size()) + 1;
    this->check_count(forward_name, bags + 2 * n);
    this->check_count(forward_name, bags * this->embedding_dim());
  }

  template <class I>
  ShardedBagResult<T> forward_bags(std::span<const I> indices, std::span<const Index> offsets,
                                   std::span<const T> per_sample_weights);

  BagMode mode_;
  bool include_last_offset_;
};

// Validated arguments: see the class comment for the steps.
template <class T>
template <class I>
ShardedBagResult<T> ShardedEmbeddingBag<T>::forward_bags(std::span<const I> indices,
                                                         std::span<const Index> offsets,
                                                         std::span<const T> per_sample_weights) {
  const auto& comm = this->communicator();
  const int ranks = this->size();
  const Index dim = this->embedding_dim();
  const bool max = mode_ == BagMode::max;

  ShardedBagResult<T> r;
  r.mode = mode_;
  r.offsets = bounds(offsets, static_cast<Index>(indices.size()));
  r.num_indices = static_cast<Index>(indices.size());
  r.weighted = !per_sample_weights.empty();
  const auto bags = static_cast<Index>(r.offsets.size()) - 1;
  const auto used = static_cast<std::size_t>(r.offsets.back());  // ids in some bag

  // Every rank's bag count and whether it has weights: one MPI_Allgather.
  std::vector<Index> heads(2 * static_cast<std::size_t>(ranks));
  const Index mine[2] = {bags, r.weighted ? 1 : 0};
  detail::mpi::check(MPI_Allgather(mine, 2, MPI_INT64_T, heads.data(), 2, MPI_INT64_T, comm.get()),
                     forward_name, "MPI_Allgather");
  r.bags_per_rank.resize(static_cast<std::size_t>(ranks));
  for (std::size_t s = 0; s < r.bags_per_rank.size(); ++s) {
    r.bags_per_rank[s] = static_cast<int>(heads[2 * s]);
    r.any_weighted = r.any_weighted || heads[2 * s + 1] != 0;
  }

  // To each owner: the bag lengths of its rows' ids, the ids, and (max) their positions.
  auto route = this->route(indices.data(), used);
  std::vector<Index> lengths(static_cast<std::size_t>(ranks * bags), 0);
  for (Index b = 0; b < bags; ++b) {
    for (Index p = r.offsets[static_cast<std::size_t>(b)];
         p < r.offsets[static_cast<std::size_t>(b) + 1]; ++p) {
      ++lengths[static_cast<std::size_t>(
          this->owner(static_cast<Index>(indices[static_cast<std::size_t>(p)])) * bags + b)];
    }
  }
  const int per_id = max ? 2 : 1;
  std::vector<int> packed_counts(static_cast<std::size_t>(ranks));
  std::vector<Index> packed;
  packed.reserve(static_cast<std::size_t>(ranks * bags) + used * static_cast<std::size_t>(per_id));
  for (int o = 0; o < ranks; ++o) {
    const auto so = static_cast<std::size_t>(o);
    packed.insert(packed.end(), lengths.begin() + o * bags, lengths.begin() + (o + 1) * bags);
    const auto first = static_cast<std::size_t>(route.plan.send_displs[so]);
    const auto count = static_cast<std::size_t>(route.plan.send_counts[so]);
    packed.insert(packed.end(), route.ids.begin() + static_cast<std::ptrdiff_t>(first),
                  route.ids.begin() + static_cast<std::ptrdiff_t>(first + count));
    if (max) {
      packed.insert(packed.end(), route.order.begin() + static_cast<std::ptrdiff_t>(first),
                    route.order.begin() + static_cast<std::ptrdiff_t>(first + count));
    }
    packed_counts[so] = static_cast<int>(bags) + route.plan.send_counts[so] * per_id;
  }
  const auto packed_plan = detail::mpi::make_plan(comm, forward_name, packed_counts);
  std::vector<Index> received(static_cast<std::size_t>(packed_plan.received()));
  detail::mpi::exchange(comm, forward_name, packed_plan, packed.data(), received.data(),
                        MPI_INT64_T);

  // Unpack in rank order: every rank's bags, the ids of this rank's rows in them.
  std::vector<Index> all_lengths, all_ids;
  for (int s = 0; s < ranks; ++s) {
    const auto ss = static_cast<std::size_t>(s);
    const auto at = received.begin() + packed_plan.recv_displs[ss];
    const int b = r.bags_per_rank[ss];
    const int n = (packed_plan.recv_counts[ss] - b) / per_id;
    route.plan.recv_counts.push_back(n);
    all_lengths.insert(all_lengths.end(), at, at + b);
    all_ids.insert(all_ids.end(), at + b, at + b + n);
    if (max) r.shard_positions.insert(r.shard_positions.end(), at + b + n, at + b + 2 * n);
  }
  route.plan.recv_displs = detail::mpi::displacements(route.plan.recv_counts);
  std::vector<T> all_weights;
  if (r.any_weighted) {
    std::vector<T> send(used, T(1));  // weight 1 is exact: ranks without weights send ones
    if (r.weighted) {
      for (std::size_t k = 0; k < used; ++k) {
        send[k] = per_sample_weights[static_cast<std::size_t>(route.order[k])];
      }
    }
    all_weights.resize(all_ids.size());
    detail::mpi::exchange(comm, forward_name, route.plan, send.data(), all_weights.data(),
                          detail::mpi::datatype<T>());
  }
  r.shard = this->local().forward_with_lengths(std::span<const Index>(all_ids),
                                               std::span<const Index>(all_lengths),
                                               std::span<const T>(all_weights));

  // Combine the partials: each rank receives its own bags, summed (or maxed) over owners.
  std::vector<int> recv_counts(static_cast<std::size_t>(ranks));
  for (std::size_t s = 0; s < recv_counts.size(); ++s) {
    recv_counts[s] = r.bags_per_rank[s] * static_cast<int>(dim);
  }
  r.output.resize(bags, dim);
  if (!max) {
    detail::mpi::check(
        MPI_Reduce_scatter(r.shard.output.data(), r.output.data(), recv_counts.data(),
                           detail::mpi::datatype<T>(), MPI_SUM, comm.get()),
        forward_name, "MPI_Reduce_scatter");
  } else {
    using Pair = detail::mpi::ValueAndPosition<T>;
    std::vector<Pair> partial(static_cast<std::size_t>(r.shard.output.size()));
    for (std::size_t k = 0; k < partial.size(); ++k) {
      const Index q = r.shard.argmax.data()[k];
      partial[k] = q < 0 ? Pair{-std::numeric_limits<T>::infinity(), INT_MAX}
                         : Pair{r.shard.output.data()[k],
                                static_cast<int>(r.shard_positions[static_cast<std::size_t>(q)])};
    }
    std::vector<Pair> best(static_cast<std::size_t>(bags * dim));
    detail::mpi::check(MPI_Reduce_scatter(partial.data(), best.data(), recv_counts.data(),
                                          detail::mpi::pair_datatype<T>(), MPI_MAXLOC, comm.get()),
                       forward_name, "MPI_Reduce_scatter");
    r.winners.resize(bags, dim);
    for (std::size_t k = 0; k < best.size(); ++k) {
      const bool none = best[k].position == INT_MAX;
      r.output.data()[k] = none ? T(0) : best[k].value;
      r.winners.data()[k] = none ? -1 : best[k].position;
    }
  }
  if (mode_ == BagMode::mean) {
    const Index pad = this->padding_idx().value_or(-1);
    r.counts.assign(static_cast<std::size_t>(bags), 0);
    for (Index b = 0; b < bags; ++b) {
      auto& count = r.counts[static_cast<std::size_t>(b)];
      for (Index p = r.offsets[static_cast<std::size_t>(b)];
           p < r.offsets[static_cast<std::size_t>(b) + 1]; ++p) {
        count += static_cast<Index>(indices[static_cast<std::size_t>(p)]) != pad;
      }
      if (count > 0) r.output.row(b) /= static_cast<T>(count);
    }
  }
  r.plan = std::move(route.plan);
  r.order = std::move(route.order);
  return r;
}

template <class T>
BagGradient<T> ShardedEmbeddingBag<T>::backward(const ShardedBagResult<T>& result,
                                                const Eigen::Ref<const Matrix<T>>& grad_output) {
  const auto& comm = this->communicator();
  const int ranks = this->size();
  const Index dim = this->embedding_dim();
  const Index bags = result.num_bags();
  detail::mpi::agree(comm, backward_name, [&] {
    if (result.mode != mode_) {
      detail::throw_invalid(backward_name, ": the result was made in mode ", to_string(result.mode),
                            " but this table's mode is ", to_string(mode_));
    }
    if (static_cast<int>(result.bags_per_rank.size()) != ranks ||
        result.bags_per_rank[static_cast<std::size_t>(this->rank())] != bags) {
      detail::throw_invalid(backward_name, ": the result was not made by this table's forward");
    }
    if (grad_output.rows() != bags || grad_output.cols() != dim) {
      detail::throw_invalid(backward_name, ": grad_output has shape (", grad_output.rows(), ", ",
                            grad_output.cols(), ") but (", bags, ", ", dim, ") is needed");
    }
  });

  // Every rank's bag gradients to every owner (the transpose of the reduce-scatter); mean's
  // division done here, as the whole table's backward scales each bag's row: (1 / count) * g.
  Matrix<T> grads = grad_output;
  if (mode_ == BagMode::mean) {
    for (Index b = 0; b < bags; ++b) {
      const auto count = result.counts[static_cast<std::size_t>(b)];
      if (count > 0) grads.row(b) = (T(1) / static_cast<T>(count)) * grads.row(b);
    }
  }
  std::vector<int> displs = detail::mpi::displacements(result.bags_per_rank);
  const Index total = displs.back() + result.bags_per_rank.back();
  Matrix<T> all(total, dim);
  detail::mpi::RowType<T> row(dim);
  detail::mpi::check(
      MPI_Allgatherv(grads.data(), static_cast<int>(bags), row.get(), all.data(),
                     result.bags_per_rank.data(), displs.data(), row.get(), comm.get()),
      backward_name, "MPI_Allgatherv");

  BagGradient<T> local;
  if (mode_ == BagMode::max) {
    // Only the positions that won an element over all owners get its gradient.
    Matrix<Index> winners(total, dim);
    detail::mpi::RowType<Index> index_row(dim);
    detail::mpi::check(MPI_Allgatherv(result.winners.data(), static_cast<int>(bags),
                                      index_row.get(), winners.data(), result.bags_per_rank.data(),
                                      displs.data(), index_row.get(), comm.get()),
                       backward_name, "MPI_Allgatherv");
    BagResult<T> shard = result.shard;
    for (Index k = 0; k < shard.argmax.size(); ++k) {
      Index& q = shard.argmax.data()[k];
      if (q >= 0 && result.shard_positions[static_cast<std::size_t>(q)] != winners.data()[k]) {
        q = -1;
      }
    }
    local = this->local().backward(shard, all);
  } else {
    local = this->local().backward(result.shard, all);
  }

  BagGradient<T> out;
  out.weight = std::move(local.weight);
  if (result.any_weighted) {
    // Each weight's gradient goes back to the rank that passed it.
    std::vector<T> back(result.order.size());
    detail::mpi::exchange(comm, backward_name, result.plan.reversed(),
                          local.per_sample_weights.data(), back.data(), detail::mpi::datatype<T>());
    if (result.weighted) {
      out.per_sample_weights.assign(static_cast<std::size_t>(result.num_indices), T(0));
      for (std::size_t k = 0; k < back.size(); ++k) {
        out.per_sample_weights[static_cast<std::size_t>(result.order[k])] = back[k];
      }
    }
  }
  return out;
}

// Reads a whole Embedding from the shard records of a sharded checkpoint (each file's first
// record, as ShardedEmbedding::save wrote them on any number of ranks, in any order): the rows,
// the options and the frozen flag. Needs no MPI. Throws std::runtime_error naming the file for a
// missing, corrupted or mismatched file and when some row is in none of the files.
template <class T>
Embedding<T> load_embedding(std::span<const std::filesystem::path> shard_files) {
  auto record =
      detail::mpi::read_rows<T>(shard_files, "emb::distributed::ShardedEmbedding", "emb::Embedding",
                                "emb::distributed::load_embedding", 0, 0, 0, 0);
  const auto& o = record.options;
  return Embedding<T>::from_pretrained(std::move(record.weight),
                                       {.padding_idx = o.padding_idx,
                                        .max_norm = o.max_norm,
                                        .norm_type = o.norm_type,
                                        .scale_grad_by_freq = o.scale_grad_by_freq},
                                       record.frozen);
}

// The same for ShardedEmbeddingBag's shards: a whole EmbeddingBag (its mode and
// include_last_offset too).
template <class T>
EmbeddingBag<T> load_embedding_bag(std::span<const std::filesystem::path> shard_files) {
  auto record = detail::mpi::read_rows<T, BagMode, bool>(
      shard_files, "emb::distributed::ShardedEmbeddingBag", "emb::EmbeddingBag",
      "emb::distributed::load_embedding_bag", 0, 0, 0, 0);
  const auto& o = record.options;
  return EmbeddingBag<T>::from_pretrained(std::move(record.weight),
                                          {.mode = std::get<0>(record.extra),
                                           .padding_idx = o.padding_idx,
                                           .max_norm = o.max_norm,
                                           .norm_type = o.norm_type,
                                           .scale_grad_by_freq = o.scale_grad_by_freq,
                                           .include_last_offset = std::get<1>(record.extra)},
                                          record.frozen);
}

}  // namespace emb::distributed
