#pragma once
// word-lookup's output: JSON strings and numbers, fixed-point text, and whether stdin is a
// terminal (the prompt echoes commands read from a pipe, so a transcript reads like a session).

#include <charconv>     // std::to_chars
#include <cstdio>       // std::snprintf
#include <string>       // std::string
#include <string_view>  // std::string_view

#include <emb/detail/utf8.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // isatty
#endif

namespace wl {

// A JSON string literal. Words are bytes: a byte that is not UTF-8 becomes U+FFFD, so the
// document stays valid JSON.
inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    const auto code = emb::detail::decode_utf8(text, i);
    if (!code) {
      out += "\\ufffd";
      ++i;
    } else if (*code == '"' || *code == '\\') {
      out += '\\';
      out += static_cast<char>(*code);
    } else if (*code < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(*code));
      out += escape;
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out + "\"";
}

// The shortest text that reads back as `value` (a float prints as a float, not as the longer
// double it converts to); NaN and infinities, which JSON lacks, print as null.
template <class T>
std::string json_number(T value) {
  if (value != value || value - value != 0) return "null";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

inline std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

inline bool stdin_is_terminal() {
#if defined(__unix__) || defined(__APPLE__)
  return isatty(0) == 1;
#else
  return false;
#endif
}

}  // namespace wl
