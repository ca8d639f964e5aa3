#pragma once
// Indices: the one parameter type for ids. Every lookup, backward and bag call takes it, so ids
// may come as a std::vector, a std::span, a std::array, a braced list, ... of any 4- or 8-byte
// integer type, without an overload per form.

#include <concepts>          // std::integral
#include <cstddef>           // std::size_t
#include <cstdint>           // std::int32_t, std::int64_t, std::uint64_t
#include <initializer_list>  // std::initializer_list
#include <iterator>          // std::ranges::data, std::ranges::size
#include <ranges>            // std::ranges::contiguous_range, std::ranges::range_value_t
#include <span>              // std::span
#include <stdexcept>         // std::out_of_range
#include <type_traits>       // std::remove_cvref_t, std::is_same_v, std::is_unsigned_v

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb {

// A read-only view of ids (it does not own them: pass it on, don't keep it). Converts from any
// contiguous range of 4- or 8-byte integers and from a braced list of ids. Unsigned ids are
// checked against the table like signed ones; 32-bit unsigned ids address rows below 2^31.
//
// Example:
//   std::vector<long long> ids{3, 1, 4};
//   table.forward(ids);        // also std::span<const int>, std::array<std::uint32_t, N>, {3, 1,
//   4}
class Indices {
 public:
  Indices(std::initializer_list<Index> ids) : Indices(ids.begin(), ids.size()) {}

  template <std::ranges::contiguous_range R>
  requires(!std::is_same_v<std::remove_cvref_t<R>, Indices>)
      Indices(const R& ids)  // NOLINT(google-explicit-constructor): ids convert implicitly
      : Indices(std::ranges::data(ids), static_cast<std::size_t>(std::ranges::size(ids))) {}

  template <class I>
  Indices(const I* data, std::size_t size) : data_(data), size_(size) {
    static_assert(
        std::integral<I> && !std::is_same_v<I, bool> && (sizeof(I) == 4 || sizeof(I) == 8),
        "emb::Indices: ids must be integers of 4 or 8 bytes (int32_t, int64_t, long "
        "long, uint32_t, size_t, ...)");
    wide_ = sizeof(I) == 8;
    unsigned_ = std::is_unsigned_v<I>;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Calls f(std::span<const std::int32_t>) or f(std::span<const std::int64_t>): the kernels see
  // two index types only. Unsigned ids are read as the signed type of their size (an id past
  // the signed range reads as negative, and is refused as out of range).
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (wide_)
      return f(std::span<const std::int64_t>(static_cast<const std::int64_t*>(data_), size_));
    return f(std::span<const std::int32_t>(static_cast<const std::int32_t*>(data_), size_));
  }

  // The id at position i, as written by the caller (for messages).
  std::uint64_t unsigned_at(std::size_t i) const {
    return wide_ ? static_cast<const std::uint64_t*>(data_)[i]
                 : static_cast<const std::uint32_t*>(data_)[i];
  }
  bool is_unsigned() const { return unsigned_; }

 private:
  const void* data_ = nullptr;
  std::size_t size_ = 0;
  bool wide_ = true;
  bool unsigned_ = false;
};

namespace detail {

// Every id in [0, num_embeddings), checked before anything is touched; the message names the
// first bad id as the caller wrote it.
inline void check_indices(const char* where, const Indices& ids, Index num_embeddings) {
  try {
    ids.visit([&](auto span) { check_indices(where, span.data(), span.size(), num_embeddings); });
  } catch (const std::out_of_range&) {
    if (!ids.is_unsigned()) throw;
    std::size_t i = 0;  // the scan above found one: name it as an unsigned id
    while (ids.unsigned_at(i) < static_cast<std::uint64_t>(num_embeddings) &&
           !ids.visit([&](auto span) { return span[i] < 0; })) {
      ++i;
    }
    throw_out_of_range(where, ": index ", ids.unsigned_at(i), " at position ", i,
                       " is out of range [0, ", num_embeddings, ")");
  }
}

}  // namespace detail
}  // namespace emb
