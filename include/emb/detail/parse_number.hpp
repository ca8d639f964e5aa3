#pragma once
// Numbers in vector and evaluation files, parsed as Python's float() and int() parse them.

#include <charconv>      // std::from_chars
#include <optional>      // std::optional
#include <string_view>   // std::string_view
#include <system_error>  // std::errc

#include "emb/types.hpp"

namespace emb::detail {

// Parses a whole token as a number, as Python's float() does for the tokens files hold: an
// optional sign ('+' too), decimal or exponent forms, inf and nan; too large gives +-inf and too
// small gives 0, rounded once from the decimal text to T.
template <class T>
bool parse_number(std::string_view token, T& value) {
  const char* begin = token.data();
  const char* end = begin + token.size();
  if (begin != end && *begin == '+' && end - begin > 1 && begin[1] != '-') ++begin;
  auto [ptr, error] = std::from_chars(begin, end, value);
  if (error == std::errc::result_out_of_range && ptr == end) {
    long double wide = 0;  // only out-of-range values take this path: the result is inf or 0
    std::from_chars(begin, end, wide);
    value = static_cast<T>(wide);
    return true;
  }
  return error == std::errc() && ptr == end;
}

// A whole token of decimal digits that is a positive Index; nullopt otherwise.
inline std::optional<Index> parse_positive(std::string_view token) {
  Index value = 0;
  const auto [ptr, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (error != std::errc() || ptr != token.data() + token.size() || value <= 0) return std::nullopt;
  return value;
}

}  // namespace emb::detail
