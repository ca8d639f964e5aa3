#pragma once
// Error messages that name the function, the bad value and the valid range.

#include <cstdint>    // std::int64_t
#include <sstream>    // std::ostringstream
#include <stdexcept>  // std::invalid_argument, std::out_of_range, std::runtime_error
#include <string>     // std::string

namespace emb::detail {

// Concatenates its arguments with operator<<: message("index ", 12, " is out of range").
template <class... Args>
std::string message(const Args&... args) {
  std::ostringstream out;
  out.precision(17);
  (out << ... << args);
  return out.str();
}

template <class... Args>
[[noreturn]] void throw_invalid(const Args&... args) {
  throw std::invalid_argument(message(args...));
}

template <class... Args>
[[noreturn]] void throw_out_of_range(const Args&... args) {
  throw std::out_of_range(message(args...));
}

template <class... Args>
[[noreturn]] void throw_runtime(const Args&... args) {
  throw std::runtime_error(message(args...));
}

// Checks every index before anything is touched, so a bad call changes nothing. The scan has no
// early exit, so the compiler vectorizes it (it precedes every lookup); the position of the first
// bad index is looked for only when there is one.
template <class I>
void check_indices(const char* where, const I* data, std::size_t n, std::int64_t num_embeddings) {
  // A negative index becomes a huge unsigned one: one comparison covers both ends.
  const auto limit = static_cast<std::uint64_t>(num_embeddings);
  auto outside = [limit](I i) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(i)) >= limit;
  };
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += outside(data[i]);
  if (bad == 0) return;
  std::size_t i = 0;
  while (!outside(data[i])) ++i;
  throw_out_of_range(where, ": index ", static_cast<std::int64_t>(data[i]), " at position ", i,
                     " is out of range [0, ", num_embeddings, ")");
}

}  // namespace emb::detail
