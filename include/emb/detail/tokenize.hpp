#pragma once
// Text as every vector and evaluation file is read: one definition of whitespace (Python's
// str.split() on ASCII, which gensim applies), tokens separated by it, and lines.

#include <cstddef>      // std::size_t
#include <cstring>      // std::memchr
#include <string_view>  // std::string_view
#include <vector>       // std::vector

namespace emb::detail {

// Space, \t, \n, \v, \f and \r: what separates words and values in every format, and what a word
// can therefore never contain (the writers refuse such words).
inline constexpr std::string_view whitespace = " \t\n\v\f\r";

inline bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

inline std::string_view trim_right(std::string_view text) {
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

inline std::string_view strip(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  return trim_right(text);
}

inline bool is_blank(std::string_view line) {
  return trim_right(line).empty();
}

// The token at or after `pos` (empty when only whitespace is left); `pos` moves past it.
inline std::string_view next_token(std::string_view text, std::size_t& pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
  const std::size_t start = pos;
  while (pos < text.size() && !is_space(text[pos])) ++pos;
  return text.substr(start, pos - start);
}

// Python's str.split(): runs of whitespace separate, no empty fields.
inline std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  for (auto token = next_token(text, pos); !token.empty(); token = next_token(text, pos)) {
    fields.push_back(token);
  }
  return fields;
}

// Calls visit(line) for each line of `text` (without its '\n'; the last may lack one) until
// visit returns false.
template <class Visit>
void for_each_line(std::string_view text, Visit&& visit) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const void* found = std::memchr(text.data() + pos, '\n', text.size() - pos);
    const std::size_t stop =
        found ? static_cast<std::size_t>(static_cast<const char*>(found) - text.data())
              : text.size();
    if (!visit(text.substr(pos, stop - pos))) return;
    pos = stop + 1;
  }
}

}  // namespace emb::detail
