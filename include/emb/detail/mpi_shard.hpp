#pragma once
// How a sharded table's rows are laid out over ranks, what every rank must agree on at
// construction, and the initialisation of one block of a seeded table.

#include <algorithm>    // std::min
#include <bit>          // std::bit_cast
#include <cstdint>      // std::int64_t, std::uint64_t
#include <optional>     // std::optional
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <type_traits>  // std::is_floating_point_v
#include <utility>      // std::pair
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/mpi.hpp"
#include "emb/types.hpp"

namespace emb::detail::mpi {

// num_embeddings rows in contiguous blocks over `ranks` ranks, as even as they can be: the first
// num % ranks ranks hold one row more. With fewer rows than ranks the last ranks hold none.
// owner() is O(1), so bucketing ids by owner is one pass.
class RowBlocks {
 public:
  RowBlocks(Index num_embeddings, int ranks)
      : num_(num_embeddings),
        ranks_(ranks),
        base_(num_embeddings / ranks),
        extra_(num_embeddings % ranks) {}

  Index begin(int rank) const { return rank * base_ + std::min<Index>(rank, extra_); }
  Index end(int rank) const { return begin(rank + 1); }
  Index rows(int rank) const { return end(rank) - begin(rank); }

  // The rank that holds global row `id` (which must be in [0, num_embeddings)).
  int owner(Index id) const {
    const Index wide = extra_ * (base_ + 1);  // the rows of the ranks holding one more
    if (id < wide) return static_cast<int>(id / (base_ + 1));
    return static_cast<int>(extra_ + (id - wide) / base_);
  }

  Index num_embeddings() const { return num_; }
  int ranks() const { return ranks_; }

 private:
  Index num_;
  int ranks_;
  Index base_;
  Index extra_;
};

// What every rank must pass alike: named fields, compared after one MPI_Allgather. Every rank
// sees the same values, so every rank throws the same std::invalid_argument on a mismatch.
class Fingerprint {
 public:
  void add(std::string_view name, std::int64_t value) {
    names_.emplace_back(name);
    values_.push_back(value);
  }
  void add(std::string_view name, double value) { add(name, std::bit_cast<std::int64_t>(value)); }
  void add(std::string_view name, bool value) { add(name, std::int64_t{value}); }
  template <class V>
  void add(std::string_view name, const std::optional<V>& value) {
    add(std::string(name) + " is set", value.has_value());
    const V v = value ? *value : V{};
    if constexpr (std::is_floating_point_v<V>) {
      add(name, static_cast<double>(v));
    } else {
      add(name, static_cast<std::int64_t>(v));
    }
  }

  void check(const Communicator& comm, const char* where) const {
    const auto n = values_.size();
    std::vector<std::int64_t> all(n * static_cast<std::size_t>(comm.size()));
    mpi::check(MPI_Allgather(values_.data(), static_cast<int>(n), MPI_INT64_T, all.data(),
                             static_cast<int>(n), MPI_INT64_T, comm.get()),
               where, "MPI_Allgather");
    for (int r = 1; r < comm.size(); ++r) {
      for (std::size_t k = 0; k < n; ++k) {
        if (all[static_cast<std::size_t>(r) * n + k] != all[k]) {
          throw_invalid(where, ": every rank must pass the same table shape and options, but ",
                        names_[k], " differs between rank 0 and rank ", r);
        }
      }
    }
  }

 private:
  std::vector<std::string> names_;
  std::vector<std::int64_t> values_;
};

}  // namespace emb::detail::mpi
